package processrollup

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestIncrement(t *testing.T) {
	i := func(v int64) number { return number{isInt: true, i: v} }
	f := func(v float64) number { return number{f: v} }
	for _, tc := range []struct {
		name      string
		prev, cur number
		want      number
	}{
		{"int growth", i(10), i(15), i(5)},
		{"int unchanged", i(10), i(10), i(0)},
		{"int reset", i(10), i(3), i(3)},
		{"double growth", f(1.5), f(2), f(0.5)},
		{"double reset", f(1.5), f(0.25), f(0.25)},
		{"type change is a reset", i(10), f(12), f(12)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, increment(tc.prev, tc.cur))
		})
	}
}

func TestAddKeepsTheAccumulatorType(t *testing.T) {
	acc := number{isInt: true}
	acc.add(number{isInt: true, i: 3})
	acc.add(number{f: 2.9})
	assert.Equal(t, number{isInt: true, i: 5}, acc)

	acc = number{}
	acc.add(number{f: 0.5})
	acc.add(number{isInt: true, i: 2})
	assert.Equal(t, number{f: 2.5}, acc)
}

func TestAdvance(t *testing.T) {
	var e procEntry
	inc, ok := e.advance(1, number{f: 7}, false)
	assert.False(t, ok, "a baseline is no increment")
	assert.Equal(t, number{f: 7}, inc)
	inc, ok = e.advance(2, number{isInt: true, i: 40}, true)
	assert.True(t, ok, "a newborn's first value is its increment")
	assert.Equal(t, number{isInt: true, i: 40}, inc)
	inc, ok = e.advance(1, number{f: 9.5}, false)
	assert.True(t, ok)
	assert.Equal(t, number{f: 2.5}, inc)
	assert.Len(t, e.points, 2)
}

func TestValueOf(t *testing.T) {
	dp := pmetric.NewNumberDataPoint()
	_, ok := valueOf(dp)
	assert.False(t, ok, "a point without a value")
	dp.SetIntValue(4)
	v, ok := valueOf(dp)
	assert.True(t, ok)
	assert.Equal(t, number{isInt: true, i: 4}, v)
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		dp.SetDoubleValue(bad)
		_, ok = valueOf(dp)
		assert.False(t, ok, "%v", bad)
	}
	dp.SetDoubleValue(1)
	dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	_, ok = valueOf(dp)
	assert.False(t, ok, "no recorded value")
}

func TestGroupKeysNeverCollide(t *testing.T) {
	groupBy := []string{"a", "b"}
	keys := map[string]string{}
	for name, set := range map[string]func(pcommon.Map){
		"absent":        func(pcommon.Map) {},
		"empty string":  func(m pcommon.Map) { m.PutStr("a", "") },
		"string 1":      func(m pcommon.Map) { m.PutStr("a", "1") },
		"int 1":         func(m pcommon.Map) { m.PutInt("a", 1) },
		"double 1":      func(m pcommon.Map) { m.PutDouble("a", 1) },
		"bool true":     func(m pcommon.Map) { m.PutBool("a", true) },
		"string true":   func(m pcommon.Map) { m.PutStr("a", "true") },
		"slice":         func(m pcommon.Map) { m.PutEmptySlice("a").AppendEmpty().SetStr("x") },
		"x in b":        func(m pcommon.Map) { m.PutStr("b", "x") },
		"x in a":        func(m pcommon.Map) { m.PutStr("a", "x") },
		"split a|b":     func(m pcommon.Map) { m.PutStr("a", "x"); m.PutStr("b", "y") },
		"split a|b alt": func(m pcommon.Map) { m.PutStr("a", "xy") },
	} {
		attrs := pcommon.NewMap()
		set(attrs)
		key := string(appendGroupKey(nil, "web-1", attrs, groupBy))
		if other, dup := keys[key]; dup {
			t.Errorf("%q and %q share a group key", name, other)
		}
		keys[key] = name
	}
	attrs := pcommon.NewMap()
	assert.NotEqual(t, appendGroupKey(nil, "web-1", attrs, groupBy), appendGroupKey(nil, "web-2", attrs, groupBy))
}
