package experiments

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// threeCandidates is a paired spec comparing topk-rollup k=5, topk-rollup
// k=10 and topk k=3 (named "small") with the baseline.
func threeCandidates() apitypes.ExperimentSpec {
	return multiSpec(topkK(5), topkK(10), apitypes.NamedVariant{Name: "small", Pipeline: "topk", Parameters: map[string]any{"k": 3}})
}

func TestSeveralCandidatesDeployOnePairedConfiguration(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("a1", map[string]string{"env": "test"})
	x := f.deployed(threeCandidates())
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	assert.Equal(t, []string{"topk-rollup-k5", "topk-rollup-k10", "small"}, x.Spec.CandidateNames(), "stored with their names")

	cfg := parseConfig(t, f.assigned("a1").Config)
	assert.Equal(t, "baseline", cfg.at("processors", "cost_meter/baseline", "variant"))
	for name, k := range map[string]int{"topk-rollup-k5": 5, "topk-rollup-k10": 10, "small": 3} {
		assert.Equal(t, name, cfg.at("processors", "cost_meter/"+name, "variant"), "each candidate meters under its name")
		assert.Equal(t, k, cfg.at("processors", "process_topk/"+name, "k"), name)
		assert.Equal(t, []any{"nop"}, cfg.at("service", "pipelines", "metrics/"+name, "exporters"), "%s is a shadow", name)
	}
	assert.Nil(t, cfg.at("processors", "cost_meter/candidate"), "no single candidate")
}

func TestCreateChecksEveryCandidatesPipelineAndRender(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := threeCandidates()
	s.Candidates[1].Pipeline = "no-such-pipeline"
	_, err := f.c.Create(t.Context(), s)
	require.ErrorIs(t, err, ErrInvalidSpec)
	assert.Contains(t, err.Error(), `candidates[1].pipeline: pipeline "no-such-pipeline"`)

	s = threeCandidates()
	s.Candidates[2].Parameters = map[string]any{"k": 0}
	_, err = f.c.Create(t.Context(), s)
	require.ErrorIs(t, err, ErrInvalidSpec)
	assert.Contains(t, err.Error(), "small")

	// A baseline that is each agent's current configuration: each
	// candidate is rendered alone.
	s = threeCandidates()
	s.Baseline = apitypes.Variant{Current: true}
	s.Candidates[0].Parameters = map[string]any{"k": 0}
	_, err = f.c.Create(t.Context(), s)
	require.ErrorIs(t, err, ErrInvalidSpec)
	assert.Contains(t, err.Error(), "rendering candidate topk-rollup-k0")
}

// multiRolloutFixture is a completed experiment with three candidates on
// a1…a4; the analysis recommends "small".
func multiRolloutFixture(t *testing.T) (*fixture, Experiment, map[string]apitypes.Assignment) {
	t.Helper()
	f := newFixture(t)
	f.c.set.Analyze = func(context.Context, Experiment, map[string][]apitypes.Sample) (apitypes.Results, error) {
		return apitypes.Results{Verdict: apitypes.Verdict{Pass: true}, Recommended: "small"}, nil
	}
	before := map[string]apitypes.Assignment{}
	for _, uid := range []string{"a1", "a2", "a3", "a4"} {
		before[uid] = f.agent(uid, map[string]string{"env": "test"})
	}
	x := f.running(threeCandidates())
	f.advance(3 * time.Minute)
	f.c.ReconcileAll(t.Context())
	f.c.ReconcileAll(t.Context())
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentCompleted, x.Status, x.State.Error)
	for uid := range before {
		f.critical(uid, 4)
	}
	return f, x, before
}

// onSmall reports that an agent runs the promoted "small" candidate: topk
// with k 3, labelled as itself.
func onSmall(t *testing.T, f *fixture, uid string) bool {
	t.Helper()
	a := f.assigned(uid)
	if !onCandidate(f, uid) {
		return false
	}
	assert.Equal(t, "topk", a.Pipeline, uid)
	assert.EqualValues(t, 3, a.Parameters["k"], uid)
	assert.Equal(t, "topk", a.Parameters["variant"], "%s: labelled as itself, not as an experiment's variant", uid)
	cfg := parseConfig(t, a.Config)
	assert.Nil(t, cfg.at("processors", "process_topk/small"), "a pipeline on its own")
	return true
}

func TestPromoteTheNamedCandidateWaveByWave(t *testing.T) {
	t.Parallel()
	f, x, _ := multiRolloutFixture(t)
	x, err := f.c.PromoteWith(t.Context(), x.ID, apitypes.PromoteRequest{Waves: []float64{25, 50, 100}, Candidate: "small"})
	require.NoError(t, err)
	require.NotNil(t, x.State.Rollout)
	assert.Equal(t, "small", x.State.Rollout.Candidate)
	assert.True(t, onSmall(t, f, "a1"), "the first wave")
	assert.False(t, onCandidate(f, "a2"))

	f.passGate("a1")
	assert.True(t, onSmall(t, f, "a2"), "the second wave")
	f.passGate("a2")
	assert.True(t, onSmall(t, f, "a3"))
	assert.True(t, onSmall(t, f, "a4"))
	f.passGate("a3", "a4")
	x = f.get(x.ID)
	assert.Equal(t, apitypes.RolloutCompleted, x.State.Rollout.State)
	assert.Equal(t, "small", x.State.Rollout.Candidate)
	var promoting string
	for _, e := range x.Events {
		if strings.HasPrefix(e.Cause, "promoting") {
			promoting = e.Cause
		}
	}
	assert.Equal(t, "promoting candidate small in 3 wave(s): 25% (+1), 50% (+1), 100% (+2); gate timeout 5m0s", promoting)
}

func TestPromoteRefusesAMissingOrUnknownCandidate(t *testing.T) {
	t.Parallel()
	f, x, before := multiRolloutFixture(t)
	names := "one of topk-rollup-k5, topk-rollup-k10, small; recommended: small"
	for _, tt := range []struct{ name, want string }{
		{"", "promote: name the candidate to promote (--candidate): " + names},
		{"big", `promote: no candidate is named "big" (names are case-sensitive): ` + names},
		{"Small", `no candidate is named "Small"`},
		{"candidate", `no candidate is named "candidate"`},
		{strings.Repeat("x", 10_000), `no candidate is named "` + strings.Repeat("x", 64) + `"…`},
	} {
		_, err := f.c.PromoteWith(t.Context(), x.ID, apitypes.PromoteRequest{Candidate: tt.name})
		require.ErrorIs(t, err, ErrInvalidRequest, tt.want)
		assert.Contains(t, err.Error(), tt.want)
		assert.Less(t, len(err.Error()), 500)
	}
	for uid, prev := range before {
		assert.Equal(t, prev.ConfigHash, f.assigned(uid).ConfigHash, "%s untouched", uid)
	}
	x = f.get(x.ID)
	assert.Nil(t, x.State.Rollout, "nothing stored")
	assert.False(t, x.State.Promoted)
}

func TestPromoteSingleCandidateByNameOrNot(t *testing.T) {
	t.Parallel()
	f, x, _ := rolloutFixture(t)
	_, err := f.c.PromoteWith(t.Context(), x.ID, apitypes.PromoteRequest{Candidate: "small"})
	require.ErrorIs(t, err, ErrInvalidRequest)
	assert.Contains(t, err.Error(), `promote: candidate: the experiment has a single candidate: leave the name out or give "candidate", not "small"`)
	assert.Nil(t, f.get(x.ID).State.Rollout)

	x, err = f.c.PromoteWith(t.Context(), x.ID, apitypes.PromoteRequest{Candidate: "candidate"})
	require.NoError(t, err)
	assert.Equal(t, "candidate", x.State.Rollout.Candidate)
	assert.Equal(t, "topk-rollup", f.assigned("a1").Pipeline)
}

func TestARestartedRolloutPromotesTheStoredCandidate(t *testing.T) {
	t.Parallel()
	f, x, _ := multiRolloutFixture(t)
	ctx := t.Context()
	// The server dies while assigning the last wave, after saving it.
	f.c = f.replica(&crashingStore{Store: f.st, uid: "a4"})
	_, err := f.c.PromoteWith(ctx, x.ID, apitypes.PromoteRequest{Waves: []float64{25, 50, 100}, Candidate: "small"})
	require.NoError(t, err)
	f.passGate("a1")
	f.passGate("a2")
	require.False(t, onCandidate(f, "a4"), "the crash came before a4's assignment")

	// A new controller on the same store reads the candidate from the
	// stored rollout.
	f.c = f.replica(f.st)
	f.c.ReconcileAll(ctx)
	assert.True(t, onSmall(t, f, "a3"))
	assert.True(t, onSmall(t, f, "a4"), "the interrupted wave is assigned the same candidate")
	f.passGate("a3", "a4")
	x = f.get(x.ID)
	assert.Equal(t, apitypes.RolloutCompleted, x.State.Rollout.State)
	assert.Equal(t, "small", x.State.Rollout.Candidate)
}
