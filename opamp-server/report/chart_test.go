package report

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func minutes(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

var order = []apitypes.VariantSeries{{Variant: apitypes.VariantBaseline}, {Variant: apitypes.VariantCandidate}}

func TestNewChart(t *testing.T) {
	c := newChart("c", "Title", "series", formatAxisNumber, order, map[string][]apitypes.Point{
		apitypes.VariantBaseline:  {{Minute: minutes(0), Value: 0}, {Minute: minutes(10), Value: 8000}},
		apitypes.VariantCandidate: {{Minute: minutes(5), Value: 4000}},
	})
	// x: 78 + minutes/10 × (740 − 78); y: 240 − value/8000 × (240 − 40),
	// the top rounded up to a multiple of the 2,000 step.
	require.Len(t, c.Lines, 2)
	assert.Equal(t, "78,240 740,40", c.Lines[0].Points)
	assert.Equal(t, "409,140", c.Lines[1].Points)
	assert.Equal(t, []xy{{409, 140}}, c.Lines[1].Markers)
	assert.Equal(t, "#1f5fbf", c.Lines[0].Color)
	assert.Equal(t, "#d9660b", c.Lines[1].Color)
	assert.Equal(t, []tick{{240, "0"}, {190, "2,000"}, {140, "4,000"}, {90, "6,000"}, {40, "8,000"}}, c.YTicks)
	assert.Equal(t, []tick{{78, "12:00"}, {210.4, "12:02"}, {342.8, "12:04"}, {475.2, "12:06"}, {607.6, "12:08"}, {740, "12:10"}}, c.XTicks)
}

func TestNewChartEdgeCases(t *testing.T) {
	// One point is centred; an all-zero series still gets a y scale.
	one := newChart("c", "T", "y", formatAxisNumber, order[:1], map[string][]apitypes.Point{
		apitypes.VariantBaseline: {{Minute: minutes(3), Value: 0}},
	})
	assert.Equal(t, "409,240", one.Lines[0].Points)
	assert.Equal(t, []tick{{240, "0"}, {40, "1"}}, one.YTicks)

	// A variant without points keeps its legend entry and draws nothing.
	empty := newChart("c", "T", "y", formatAxisNumber, order, map[string][]apitypes.Point{
		apitypes.VariantBaseline: {{Minute: minutes(0), Value: 5}, {Minute: minutes(1), Value: 6}},
	})
	assert.Empty(t, empty.Lines[1].Points)
	assert.Equal(t, float64(plotLeft+legendStride), empty.Lines[1].LegendX)

	// Hours of minutes: a line without markers.
	var many []apitypes.Point
	for i := range 240 {
		many = append(many, apitypes.Point{Minute: minutes(i), Value: float64(i)})
	}
	long := newChart("c", "T", "y", formatAxisNumber, order[:1], map[string][]apitypes.Point{apitypes.VariantBaseline: many})
	assert.Len(t, strings.Fields(long.Lines[0].Points), 240)
	assert.Empty(t, long.Lines[0].Markers)

	// Unknown variants still get distinct colours.
	assert.NotEqual(t, colorOf("a", 0), colorOf("b", 1))
}

func TestNiceStep(t *testing.T) {
	for raw, want := range map[float64]float64{0: 1, -3: 1, 1750: 2000, 0.3: 0.5, 2.2: 2.5, 10: 10, 0.0031: 0.005, 7: 10, 1: 1} {
		assert.InDelta(t, want, niceStep(raw), want*1e-12, "%g", raw)
	}
}

func TestTimeTicks(t *testing.T) {
	labels := func(ts []timeTick) []string {
		var out []string
		for _, tt := range ts {
			out = append(out, tt.label)
		}
		return out
	}
	assert.Equal(t, []string{"12:00", "12:02", "12:04", "12:06", "12:08"}, labels(timeTicks(minutes(0), minutes(9))))
	assert.Equal(t, []string{"12:30", "13:00", "13:30", "14:00", "14:30"}, labels(timeTicks(minutes(17), minutes(175))))
	days := timeTicks(t0, t0.Add(72*time.Hour))
	assert.Equal(t, "Mar 1 12:00", days[0].label)
	assert.LessOrEqual(t, len(days), 9)
}

func TestAxisFormats(t *testing.T) {
	assert.Equal(t, "7,500", formatAxisNumber(7500), "below 10k stays exact")
	assert.Equal(t, "15k", formatAxisNumber(15000))
	assert.Equal(t, "2.5M", formatAxisNumber(2.5e6))
	assert.Equal(t, "$0", formatAxisUSD(0))
	assert.Equal(t, "$0.005", formatAxisUSD(0.005))
	assert.Equal(t, "$1,500", formatAxisUSD(1500))
}
