package chaintest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// meterReading is what the two cost_meters reported at one moment.
type meterReading struct {
	variants            [2]variantReading // baseline, candidate
	notable, blindSpots int64
}

type variantReading struct {
	cpu, memory  [2]float64 // attributed, rolled up
	processes    [2]int64   // process_resources, processes_rolled_up
	datapoints   int64
	activeSeries int64
	critical     int64
}

func readMeters(t *testing.T, tel *componenttest.Telemetry) meterReading {
	t.Helper()
	var r meterReading
	for i, variant := range []string{baselineVariant, tradeoffVariant} {
		v := &r.variants[i]
		v.cpu[attributedSeries] = meterSum[float64](t, tel, "cpu_time_attributed", variant)
		v.cpu[rolledUpSeries] = meterSum[float64](t, tel, "cpu_time_rolled_up", variant)
		v.memory[attributedSeries] = float64(meterSum[int64](t, tel, "memory_attributed", variant))
		v.memory[rolledUpSeries] = float64(meterSum[int64](t, tel, "memory_rolled_up", variant))
		v.processes[attributedSeries] = meterSum[int64](t, tel, "process_resources", variant)
		v.processes[rolledUpSeries] = meterSum[int64](t, tel, "processes_rolled_up", variant)
		v.datapoints = meterSum[int64](t, tel, "datapoints", variant)
		v.activeSeries = meterGauge(t, tel, "active_series", variant)
		v.critical = meterGauge(t, tel, "critical_processes", variant)
	}
	r.notable = meterSum[int64](t, tel, "notable_processes", baselineVariant)
	r.blindSpots = meterSum[int64](t, tel, "blind_spots", tradeoffVariant)
	return r
}

// checkAgainstCostMeter checks the figures computed from the pdata against
// the cost_meters': over the measured scrapes (their counters' increase since
// the warm-up) and, for active series, over the whole run, which is well
// within the meters' five-minute active-series window of wall-clock time.
func checkAgainstCostMeter(t *testing.T, base, cand *stream, warm, end meterReading) {
	t.Helper()
	for i, s := range []*stream{base, cand} {
		variant := []string{baselineVariant, tradeoffVariant}[i]
		got, was := end.variants[i], warm.variants[i]
		f := s.figures
		for c, class := range []string{"attributed", "rolled_up"} {
			assert.InDelta(t, f.cpu[c], got.cpu[c]-was.cpu[c], 1e-6*(1+f.cpu[c]), "%s: cpu_time_%s", variant, class)
			assert.InDelta(t, f.memory[c], got.memory[c]-was.memory[c], 0.5, "%s: memory_%s", variant, class)
			assert.Equal(t, f.processes[c], got.processes[c]-was.processes[c], "%s: processes (%s)", variant, class)
		}
		assert.Equal(t, f.datapoints, got.datapoints-was.datapoints, "%s: datapoints", variant)
		assert.Equal(t, int64(len(s.all)), got.activeSeries, "%s: active_series (whole run)", variant)
	}
	assert.Equal(t, end.variants[0].critical, end.variants[1].critical, "critical_processes of the latest scrape")
}

// meterSum returns a cost_meter counter's value for a variant; 0 when it has
// no datapoint yet.
func meterSum[N int64 | float64](t *testing.T, tel *componenttest.Telemetry, name, variant string) N {
	t.Helper()
	m, err := tel.GetMetric("otelcol_processor_cost_meter_" + name)
	if err != nil {
		return 0
	}
	sum, ok := m.Data.(metricdata.Sum[N])
	require.True(t, ok, "%s is a %T", name, m.Data)
	for _, dp := range sum.DataPoints {
		if v, _ := dp.Attributes.Value("variant"); v.AsString() == variant {
			return dp.Value
		}
	}
	return 0
}

func meterGauge(t *testing.T, tel *componenttest.Telemetry, name, variant string) int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_processor_cost_meter_" + name)
	require.NoError(t, err)
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	for _, dp := range g.DataPoints {
		if v, _ := dp.Attributes.Value("variant"); v.AsString() == variant {
			return dp.Value
		}
	}
	t.Fatalf("no %s datapoint for variant %s", name, variant)
	return 0
}
