package costmeter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// oneSeries builds a resource with one gauge point; edit shapes it.
func oneSeries(edit func(res pcommon.Map, scope pcommon.InstrumentationScope, m pmetric.Metric, dp pcommon.Map)) pmetric.ResourceMetrics {
	rm := pmetric.NewResourceMetrics()
	rm.Resource().Attributes().PutStr("host.name", "h1")
	rm.Resource().Attributes().PutInt("process.pid", 7)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("scraper")
	m := sm.Metrics().AppendEmpty()
	m.SetName("process.cpu.time")
	dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.Attributes().PutStr("state", "user")
	dp.Attributes().PutStr("cpu", "0")
	if edit != nil {
		edit(rm.Resource().Attributes(), sm.Scope(), m, dp.Attributes())
	}
	return rm
}

func seriesOf(t *testing.T, h seriesHasher, rm pmetric.ResourceMetrics) uint64 {
	t.Helper()
	ids, _ := h.appendResource(nil, rm)
	require.Len(t, ids, 1)
	return ids[0]
}

func TestSeriesHashIdentity(t *testing.T) {
	h := newSeriesHasher()
	base := seriesOf(t, h, oneSeries(nil))

	same := map[string]func(res pcommon.Map, scope pcommon.InstrumentationScope, m pmetric.Metric, dp pcommon.Map){
		"resource attributes reordered": func(res pcommon.Map, _ pcommon.InstrumentationScope, _ pmetric.Metric, _ pcommon.Map) {
			res.Remove("host.name")
			res.PutStr("host.name", "h1")
		},
		"datapoint attributes reordered": func(_ pcommon.Map, _ pcommon.InstrumentationScope, _ pmetric.Metric, dp pcommon.Map) {
			dp.Remove("state")
			dp.PutStr("state", "user")
		},
		"scope version, unit and type are not identity": func(_ pcommon.Map, scope pcommon.InstrumentationScope, m pmetric.Metric, _ pcommon.Map) {
			scope.SetVersion("2.0")
			m.SetUnit("s")
			m.SetEmptySum().DataPoints().AppendEmpty().Attributes().FromRaw(map[string]any{"state": "user", "cpu": "0"})
		},
	}
	for name, edit := range same {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, base, seriesOf(t, h, oneSeries(edit)))
		})
	}

	different := map[string]func(res pcommon.Map, scope pcommon.InstrumentationScope, m pmetric.Metric, dp pcommon.Map){
		"resource attribute value": func(res pcommon.Map, _ pcommon.InstrumentationScope, _ pmetric.Metric, _ pcommon.Map) {
			res.PutStr("host.name", "h2")
		},
		"extra resource attribute": func(res pcommon.Map, _ pcommon.InstrumentationScope, _ pmetric.Metric, _ pcommon.Map) {
			res.PutStr("process.owner", "root")
		},
		"value type": func(res pcommon.Map, _ pcommon.InstrumentationScope, _ pmetric.Metric, _ pcommon.Map) {
			res.PutStr("process.pid", "7")
		},
		"scope name": func(_ pcommon.Map, scope pcommon.InstrumentationScope, _ pmetric.Metric, _ pcommon.Map) {
			scope.SetName("other")
		},
		"metric name": func(_ pcommon.Map, _ pcommon.InstrumentationScope, m pmetric.Metric, _ pcommon.Map) {
			m.SetName("process.memory.usage")
		},
		"datapoint attribute value": func(_ pcommon.Map, _ pcommon.InstrumentationScope, _ pmetric.Metric, dp pcommon.Map) {
			dp.PutStr("state", "system")
		},
		"values swapped between keys": func(_ pcommon.Map, _ pcommon.InstrumentationScope, _ pmetric.Metric, dp pcommon.Map) {
			dp.PutStr("state", "0")
			dp.PutStr("cpu", "user")
		},
		"attribute moved from datapoint to resource": func(res pcommon.Map, _ pcommon.InstrumentationScope, _ pmetric.Metric, dp pcommon.Map) {
			dp.Remove("cpu")
			res.PutStr("cpu", "0")
		},
	}
	for name, edit := range different {
		t.Run(name, func(t *testing.T) {
			assert.NotEqual(t, base, seriesOf(t, h, oneSeries(edit)))
		})
	}
}

func TestValueHashCoversEveryType(t *testing.T) {
	h := newSeriesHasher()
	values := []any{
		nil, "1", int64(1), 1.0, true, false, []byte("1"),
		[]any{"a", "b"}, []any{"b", "a"}, []any{},
		map[string]any{"a": "1"}, map[string]any{"a": int64(1)}, map[string]any{},
	}
	seen := map[uint64]any{}
	for _, raw := range values {
		v := pcommon.NewValueEmpty()
		require.NoError(t, v.FromRaw(raw))
		hash := h.value(v)
		if prev, dup := seen[hash]; dup {
			t.Errorf("%#v and %#v hash alike", prev, raw)
		}
		seen[hash] = raw
	}
}

func TestEveryPointTypeIsASeries(t *testing.T) {
	rm := pmetric.NewResourceMetrics()
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptySum().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty()
	ms.AppendEmpty() // no type, no points
	for i := 0; i < ms.Len(); i++ {
		ms.At(i).SetName("m")
	}
	ids, _ := newSeriesHasher().appendResource(nil, rm)
	assert.Len(t, ids, 5)
}
