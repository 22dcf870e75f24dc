package datapoints

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestForEachAttributesVisitsEveryType(t *testing.T) {
	ms := pmetric.NewMetricSlice()
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().Attributes().PutStr("t", "gauge")
	sum := ms.AppendEmpty().SetEmptySum().DataPoints()
	sum.AppendEmpty().Attributes().PutStr("t", "sum")
	sum.AppendEmpty().Attributes().PutStr("t", "sum2")
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty().Attributes().PutStr("t", "histogram")
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty().Attributes().PutStr("t", "exp")
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty().Attributes().PutStr("t", "summary")
	ms.AppendEmpty() // empty: no datapoints

	var seen []string
	for i := 0; i < ms.Len(); i++ {
		ForEachAttributes(ms.At(i), func(a pcommon.Map) {
			v, _ := a.Get("t")
			seen = append(seen, v.Str())
		})
	}
	assert.Equal(t, []string{"gauge", "sum", "sum2", "histogram", "exp", "summary"}, seen)
}

func TestKeyIsOrderIndependent(t *testing.T) {
	a, b := pcommon.NewMap(), pcommon.NewMap()
	a.PutStr("z", "1")
	a.PutInt("a", 2)
	b.PutInt("a", 2)
	b.PutStr("z", "1")
	assert.Equal(t, "a=2,z=1", Key(a))
	assert.Equal(t, Key(a), Key(b))
	assert.Empty(t, Key(pcommon.NewMap()))
}
