package analysis

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	in := pairedInput(3, pairedAgent("a1", 3, baseline, candidate))
	in.PriceModels = []string{"grafana_cloud"}
	res, err := Analyze(in)
	require.NoError(t, err)
	current := map[string]apitypes.Results{"exp-1": res}
	m := NewMetrics(func() map[string]apitypes.Results { return current })

	// 7,000 series at $6.50 per 1,000 a month is $45.50, /720 an hour.
	const want = `
# HELP phoenix_estimated_hourly_cost_usd Estimated hourly cost in USD if every target of the experiment ran the variant, by price model.
# TYPE phoenix_estimated_hourly_cost_usd gauge
phoenix_estimated_hourly_cost_usd{experiment="exp-1",model="grafana_cloud",variant="baseline"} 0.06319444444444444
phoenix_estimated_hourly_cost_usd{experiment="exp-1",model="grafana_cloud",variant="candidate"} 0.006319444444444444
# HELP phoenix_pipeline_active_series Mean active series per agent of the variant over the measurement window.
# TYPE phoenix_pipeline_active_series gauge
phoenix_pipeline_active_series{experiment="exp-1",variant="baseline"} 7000
phoenix_pipeline_active_series{experiment="exp-1",variant="candidate"} 700
# HELP phoenix_pipeline_cardinality_reduction_ratio Active-series reduction of the experiment's candidate, 1 - candidate/baseline (point estimate).
# TYPE phoenix_pipeline_cardinality_reduction_ratio gauge
phoenix_pipeline_cardinality_reduction_ratio{experiment="exp-1"} 0.9
# HELP phoenix_pipeline_critical_processes_retained Critical processes the candidate kept, as a ratio of the baseline's (0-1; 1 when the baseline saw none).
# TYPE phoenix_pipeline_critical_processes_retained gauge
phoenix_pipeline_critical_processes_retained{experiment="exp-1"} 1
# HELP phoenix_pipeline_datapoints_per_minute Mean datapoints per minute per agent of the variant over the measurement window.
# TYPE phoenix_pipeline_datapoints_per_minute gauge
phoenix_pipeline_datapoints_per_minute{experiment="exp-1",variant="baseline"} 7000
phoenix_pipeline_datapoints_per_minute{experiment="exp-1",variant="candidate"} 700
`
	require.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want)))

	// Results change between scrapes; the collector follows.
	current = map[string]apitypes.Results{}
	assert.Equal(t, 0, testutil.CollectAndCount(m))
	current = nil
	assert.Equal(t, 0, testutil.CollectAndCount(m))

	// It registers cleanly and passes the linter.
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	current = map[string]apitypes.Results{"exp-1": res, "exp-2": res}
	problems, err := testutil.GatherAndLint(reg)
	require.NoError(t, err)
	assert.Empty(t, problems)
	assert.Equal(t, 2*(2+2+2+2), testutil.CollectAndCount(m))
}

func TestMetricsInvalidLabel(t *testing.T) {
	t.Parallel()
	m := NewMetrics(func() map[string]apitypes.Results { return map[string]apitypes.Results{"\xff": {}} })
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	_, err := reg.Gather()
	assert.ErrorContains(t, err, `label value "\xff" is not valid UTF-8`, "a bad label is reported, not a panic")
}

func TestMetricsFidelity(t *testing.T) {
	t.Parallel()
	res, err := Analyze(pairedInput(11, fidelityAgent(t, "a1")))
	require.NoError(t, err)
	m := NewMetrics(func() map[string]apitypes.Results { return map[string]apitypes.Results{"exp-1": res} })
	const want = `
# HELP phoenix_pipeline_blind_spots_per_hour Notable processes per agent and hour the experiment's candidate did not export on their own (paired mode; absent without fidelity figures).
# TYPE phoenix_pipeline_blind_spots_per_hour gauge
phoenix_pipeline_blind_spots_per_hour{experiment="exp-1"} 18
# HELP phoenix_pipeline_cpu_coverage_ratio Share of the processes' CPU time the experiment's candidate keeps in per-process series (0-1; absent without fidelity figures).
# TYPE phoenix_pipeline_cpu_coverage_ratio gauge
phoenix_pipeline_cpu_coverage_ratio{experiment="exp-1"} 0.75
`
	require.NoError(t, testutil.CollectAndCompare(m, strings.NewReader(want),
		"phoenix_pipeline_blind_spots_per_hour", "phoenix_pipeline_cpu_coverage_ratio"))
}
