package experiments

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

func TestStopRestoresEveryTarget(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		start func(*fixture, apitypes.ExperimentSpec) Experiment
		from  apitypes.ExperimentStatus
		cause string
	}{
		{"while deploying", (*fixture).deployed, apitypes.ExperimentDeploying, "stopped while deploying"},
		{"while running", (*fixture).running, apitypes.ExperimentRunning, "stopped while running"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			before := map[string]apitypes.Assignment{
				"a1": f.agent("a1", map[string]string{"env": "test"}),
				"a2": f.agent("a2", map[string]string{"env": "test"}),
			}
			x := tt.start(f, validSpec(apitypes.ModePaired))
			require.Equal(t, tt.from, x.Status)
			for uid := range before {
				require.NotEqual(t, before[uid].ConfigHash, f.assigned(uid).ConfigHash, "%s runs the experiment", uid)
			}

			_, err := f.c.Stop(t.Context(), x.ID)
			require.NoError(t, err)
			f.c.ReconcileAll(t.Context())
			x = f.get(x.ID)
			assert.Equal(t, apitypes.ExperimentCancelled, x.Status)
			assert.True(t, x.State.Restored)
			assert.Equal(t, f.now, x.State.FinishedAt)
			assert.Empty(t, x.State.Error)
			for uid, prev := range before {
				got := f.assigned(uid)
				assert.Equal(t, prev.ConfigHash, got.ConfigHash, "%s is back on its configuration", uid)
				assert.Equal(t, prev.Pipeline, got.Pipeline)
				assert.Contains(t, got.Reason, "restored after experiment t (cancelled)")
			}
			last := x.Events[len(x.Events)-1]
			assert.Equal(t, string(tt.from)+"→cancelled: "+tt.cause, string(last.From)+"→"+string(last.To)+": "+last.Cause)

			_, err = f.c.Stop(t.Context(), x.ID)
			require.ErrorIs(t, err, ErrState, "a cancelled experiment cannot be stopped again")
			_, err = f.c.Promote(t.Context(), x.ID)
			require.ErrorIs(t, err, ErrState, "nor promoted")
		})
	}
}

// measured is the test's per-minute figures: agent → variant → meter.
var measured = map[string]map[string]meter{
	"a1": {
		apitypes.VariantBaseline:  {datapoints: 1000, bytes: 60_000, processes: 200, batches: 2, series: 500, critical: 4},
		apitypes.VariantCandidate: {datapoints: 100, bytes: 6_000, processes: 200, batches: 2, series: 40, critical: 4},
	},
	"a2": {
		apitypes.VariantBaseline:  {datapoints: 800, bytes: 48_000, processes: 160, batches: 2, series: 400, critical: 2},
		apitypes.VariantCandidate: {datapoints: 120, bytes: 7_200, processes: 160, batches: 2, series: 60, critical: 2},
	},
}

// measuring is a running paired experiment on a1 and a2 with the real
// analyzer: measurement from 12:01 to 12:05, collectors started at 12:00.
func measuring(t *testing.T, criteria apitypes.Criteria) (*fixture, Experiment) {
	t.Helper()
	f := newFixture(t)
	set := f.c.set
	set.Analyze = analyze
	var err error
	f.c, err = New(set)
	require.NoError(t, err)
	f.agent("a1", map[string]string{"env": "test"})
	f.agent("a2", map[string]string{"env": "test"})
	spec := validSpec(apitypes.ModePaired)
	spec.Warmup, spec.Duration = apitypes.Duration(time.Minute), apitypes.Duration(4*time.Minute)
	spec.SuccessCriteria = criteria
	x := f.running(spec)
	require.Equal(t, f.now.Add(time.Minute), x.State.MeasureFrom)
	return f, x
}

// minutesPass lets the clock run n minutes, the collectors reporting each
// minute as it starts.
func (f *fixture) minutesPass(start time.Time, n int) {
	for range n {
		f.advance(time.Minute)
		for uid, meters := range measured {
			f.putMinute(uid, f.now, int(f.now.Sub(start)/time.Minute), meters)
		}
	}
}

func results(t *testing.T, f *fixture, id string) (apitypes.Results, bool) {
	t.Helper()
	r, err := f.c.Results(t.Context(), id)
	require.NoError(t, err)
	return r.Results, r.Final
}

func TestResultsAreAnalysedFromTheMeasuredSamples(t *testing.T) {
	t.Parallel()
	f, x := measuring(t, apitypes.Criteria{MinSeriesReduction: 0.8})
	start := f.now
	for uid, meters := range measured {
		f.putMinute(uid, start, 0, meters)
	}

	_, err := f.c.Results(t.Context(), x.ID)
	require.ErrorIs(t, err, ErrState, "nothing measured during the warm-up")
	f.minutesPass(start, 1)
	_, err = f.c.Results(t.Context(), x.ID)
	require.ErrorIs(t, err, ErrState, "one minute of measurement is not a rate yet")

	// Interim: 12:01 to 12:03.
	f.minutesPass(start, 2)
	interim, final := results(t, f, x.ID)
	assert.False(t, final)
	require.Len(t, interim.Agents, 2)
	for _, a := range interim.Agents {
		assert.Equal(t, 3, a.Minutes, a.InstanceUID)
		assert.Equal(t, x.State.MeasureFrom, a.From)
		assert.Equal(t, f.now, a.To, "the interim analysis reaches the latest minute")
	}
	base, ok := interim.Variant(apitypes.VariantBaseline)
	require.True(t, ok)
	assert.InDelta(t, 900, base.DatapointsPerMinute, 1e-9, "mean of a1's 1000 and a2's 800 per minute")
	assert.InDelta(t, 450, base.ActiveSeries, 1e-9)
	assert.Equal(t, apitypes.ExperimentRunning, f.get(x.ID).Status)

	// The window ends at 12:05; the collectors keep reporting after it.
	f.minutesPass(start, 3)
	f.c.ReconcileAll(t.Context())
	require.Equal(t, apitypes.ExperimentAnalyzing, f.get(x.ID).Status)
	f.c.ReconcileAll(t.Context())
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentCompleted, x.Status, x.State.Error)
	assert.Equal(t, "pass", x.State.Verdict)

	r, final := results(t, f, x.ID)
	assert.True(t, final)
	assert.Equal(t, x.State.MeasureFrom, r.From)
	assert.Equal(t, x.State.EndsAt, r.To)
	for _, a := range r.Agents {
		assert.Equal(t, 4, a.Minutes, "12:01 to 12:04: the minute the window ends is not in it")
	}
	a1 := r.Agents[0]
	require.Equal(t, "a1", a1.InstanceUID)
	assert.InDelta(t, 1-40.0/500, *a1.SeriesReduction, 1e-9)
	assert.InDelta(t, 0.9, *a1.DatapointsReduction, 1e-9)
	assert.InDelta(t, 0.9, *a1.BytesReduction, 1e-9)
	cand, ok := r.Variant(apitypes.VariantCandidate)
	require.True(t, ok)
	assert.InDelta(t, 110, cand.DatapointsPerMinute, 1e-9)
	assert.InDelta(t, 6_600, cand.BytesPerMinute, 1e-9)
	assert.InDelta(t, 180, cand.ProcessResourcesPerMinute, 1e-9)
	assert.InDelta(t, 50, cand.ActiveSeries, 1e-9)
	assert.InDelta(t, 3, cand.CriticalProcesses, 1e-9)
	assert.InDelta(t, (1-40.0/500+1-60.0/400)/2, r.Derived.SeriesReduction.Value, 1e-9)
	require.NotNil(t, r.Derived.SeriesReduction.Interval, "two agents give an interval")
	assert.InDelta(t, 1, r.Derived.CriticalRetention, 1e-9)
	assert.True(t, r.Verdict.Pass)
	assert.NotEmpty(t, r.Costs)
	assert.Empty(t, r.Warnings)
}

func TestAVerdictCanFail(t *testing.T) {
	t.Parallel()
	f, x := measuring(t, apitypes.Criteria{MinSeriesReduction: 0.95})
	start := f.now
	for uid, meters := range measured {
		f.putMinute(uid, start, 0, meters)
	}
	f.minutesPass(start, 6)
	f.c.ReconcileAll(t.Context())
	f.c.ReconcileAll(t.Context())
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentCompleted, x.Status, "a failed verdict is a completed experiment")
	assert.Equal(t, "fail", x.State.Verdict)
	r, _ := results(t, f, x.ID)
	require.NotEmpty(t, r.Verdict.Checks)
	assert.Equal(t, apitypes.OutcomeFail, r.Verdict.Checks[0].Outcome, r.Verdict.Checks[0].Reason)
}

func TestAnalysisWithoutSamplesFailsAndRestores(t *testing.T) {
	t.Parallel()
	f, x := measuring(t, apitypes.Criteria{})
	f.advance(5 * time.Minute)
	f.c.ReconcileAll(t.Context())
	f.c.ReconcileAll(t.Context())
	x = f.get(x.ID)
	assert.Equal(t, apitypes.ExperimentFailed, x.Status)
	assert.Contains(t, x.State.Error, "analysis: insufficient data")
	assert.True(t, x.State.Restored)
	assert.Empty(t, x.State.Results)
	_, err := f.c.Results(t.Context(), x.ID)
	assert.ErrorIs(t, err, ErrState)
}

func TestResultsOfAnUnknownExperiment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, err := f.c.Results(t.Context(), "exp-none")
	assert.ErrorIs(t, err, store.ErrNotFound)
}
