package processrollup

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// reorder applies edit to every metric of a process resource.
func reorder(md pmetric.Metrics, i int, edit func(ms pmetric.MetricSlice)) {
	edit(md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics())
}

// reversePoints lists every metric's points in the opposite order.
func reversePoints(ms pmetric.MetricSlice) {
	for j := 0; j < ms.Len(); j++ {
		if m := ms.At(j); m.Type() == pmetric.MetricTypeSum {
			m.Sum().DataPoints().Sort(func(a, b pmetric.NumberDataPoint) bool {
				av, _ := a.Attributes().Get(processmetrics.AttrState)
				bv, _ := b.Attributes().Get(processmetrics.AttrState)
				if av.Str() != bv.Str() {
					return av.Str() > bv.Str()
				}
				av, _ = a.Attributes().Get(processmetrics.AttrDirection)
				bv, _ = b.Attributes().Get(processmetrics.AttrDirection)
				return av.Str() > bv.Str()
			})
		}
	}
}

// TestSeriesFollowTheirAttributes checks that points are resolved to their
// series by their attributes, not their position: points listed in another
// order than in the batch before, and a process whose metrics sit at other
// positions (a missing metric), or list points in another order than the
// other processes of the batch.
func TestSeriesFollowTheirAttributes(t *testing.T) {
	p, clock := newRollup(t, nil)
	t1 := t0.Add(10 * time.Second)
	consume(t, p, clock, t0, scrape(t0, member(1, "h", 10, 1000), member(2, "h", 20, 2000)))

	md := scrape(t1, member(1, "h", 15, 1100), member(2, "h", 26, 2200), member(3, "h", 30, 3000).bornAt(t0.Add(time.Second)))
	reorder(md, 0, reversePoints)
	reorder(md, 1, reversePoints)
	reorder(md, 2, func(ms pmetric.MetricSlice) {
		ms.RemoveIf(func(m pmetric.Metric) bool { return m.Name() == processmetrics.MetricMemoryUsage })
	})
	out := rollups(consume(t, p, clock, t1, md))
	rm, ok := out["host=h"]
	require.True(t, ok)
	assert.InDelta(t, 5+6+30, cpuUser(t, rm), 1e-9, "user time lands on user whatever the order")
	for _, state := range []string{"system", "wait"} {
		assert.Zero(t, point(t, rm, processmetrics.MetricCPUTime, processmetrics.AttrState, state).DoubleValue(), state)
	}
	assert.Equal(t, int64(100+200+3000), point(t, rm, processmetrics.MetricDiskIO, processmetrics.AttrDirection, "read").IntValue())
	assert.Equal(t, int64(3), count(t, rm))
	assert.Equal(t, int64(3*4<<20), point(t, rm, processmetrics.MetricMemoryVirtual, "", "").IntValue())
	assert.Equal(t, int64(2*1<<20), point(t, rm, processmetrics.MetricMemoryUsage, "", "").IntValue())
}
