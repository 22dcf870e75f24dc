package experiments

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// TestSeveralCandidatesAreAnalysedAndRanked runs an experiment with two
// candidates through the real analyzer: each agent's samples carry the
// baseline and both candidates under their names.
func TestSeveralCandidatesAreAnalysedAndRanked(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	set := f.c.set
	set.Analyze = analyze
	var err error
	f.c, err = New(set)
	require.NoError(t, err)
	f.agent("a1", map[string]string{"env": "test"})
	f.agent("a2", map[string]string{"env": "test"})
	spec := multiSpec(topkK(5), apitypes.NamedVariant{Name: "small", Pipeline: "topk", Parameters: map[string]any{"k": 3}})
	spec.Warmup, spec.Duration = apitypes.Duration(time.Minute), apitypes.Duration(4*time.Minute)
	spec.SuccessCriteria.MinSeriesReduction = 0.5
	x := f.running(spec)

	meters := map[string]meter{
		apitypes.VariantBaseline: {datapoints: 1000, bytes: 60_000, processes: 200, batches: 2, series: 500, critical: 4},
		// k5 keeps a little more than small, both keep every critical
		// process and pass.
		"topk-rollup-k5": {datapoints: 100, bytes: 6_000, processes: 200, batches: 2, series: 40, critical: 4},
		"small":          {datapoints: 60, bytes: 3_600, processes: 200, batches: 2, series: 25, critical: 4},
	}
	start := f.now
	for n := 0; n <= 6; n++ {
		for _, uid := range []string{"a1", "a2"} {
			f.putMinute(uid, start.Add(time.Duration(n)*time.Minute), n, meters)
		}
	}
	f.advance(6 * time.Minute)
	f.c.ReconcileAll(t.Context())
	f.c.ReconcileAll(t.Context())
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentCompleted, x.Status, x.State.Error)
	assert.Equal(t, "pass", x.State.Verdict)

	r := x.State.Results
	require.NotNil(t, r)
	require.Len(t, r.Candidates, 2)
	assert.Equal(t, "small", r.Candidates[0].Name, "the cheaper passing one first")
	assert.Equal(t, "topk", r.Candidates[0].Pipeline)
	assert.Equal(t, "topk-rollup-k5", r.Candidates[1].Name)
	assert.Equal(t, "small", r.Recommended)
	assert.Equal(t, "small", r.Variants[1].Variant)
	assert.InDelta(t, 1-25.0/500, r.Derived.SeriesReduction.Value, 1e-9)
	assert.InDelta(t, 1-40.0/500, r.Candidates[1].Derived.SeriesReduction.Value, 1e-9)
	var series []string
	for _, s := range r.Series {
		series = append(series, s.Variant)
	}
	assert.Equal(t, []string{"baseline", "small", "topk-rollup-k5"}, series)
}
