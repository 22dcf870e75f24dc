package experiments

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// rolloutFixture is a completed paired experiment on a1…a4, each of which
// counted four critical processes before the promote.
func rolloutFixture(t *testing.T) (*fixture, Experiment, map[string]apitypes.Assignment) {
	t.Helper()
	f := newFixture(t)
	before := map[string]apitypes.Assignment{}
	for _, uid := range []string{"a1", "a2", "a3", "a4"} {
		before[uid] = f.agent(uid, map[string]string{"env": "test"})
	}
	x := f.running(validSpec(apitypes.ModePaired))
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

// critical stores an agent's critical-process gauge for the current minute,
// as its cost_meter reports it.
func (f *fixture) critical(uid string, n float64) {
	f.t.Helper()
	require.NoError(f.t, f.st.PutSamples(f.t.Context(), []apitypes.Sample{{InstanceUID: uid, Name: analysis.SeriesCriticalProcesses,
		Variant: "topk-rollup", Minute: f.now.Truncate(time.Minute), Value: n}}))
}

// apply makes an agent report its current assignment APPLIED.
func (f *fixture) apply(uid string) {
	f.t.Helper()
	f.report(uid, f.assigned(uid).ConfigHash, apitypes.ConfigStatusApplied, "")
}

// waveStates lists the waves' states.
func waveStates(x Experiment) []apitypes.WaveState {
	var out []apitypes.WaveState
	for _, w := range x.State.Rollout.Waves {
		out = append(out, w.State)
	}
	return out
}

func onCandidate(f *fixture, uid string) bool {
	return strings.HasPrefix(f.assigned(uid).Reason, "promoted from experiment")
}

// passGate takes the agents of the current wave through their gate: applied
// and healthy, then a minute later own telemetry with their critical
// processes.
func (f *fixture) passGate(uids ...string) {
	f.t.Helper()
	for _, uid := range uids {
		f.apply(uid)
	}
	f.c.ReconcileAll(f.t.Context())
	f.advance(time.Minute)
	for _, uid := range uids {
		f.critical(uid, 4)
	}
	f.c.ReconcileAll(f.t.Context())
}

func TestWavesAdvanceInOrderOnceEachGatePasses(t *testing.T) {
	t.Parallel()
	f, x, _ := rolloutFixture(t)
	ctx := t.Context()
	x, err := f.c.PromoteWith(ctx, x.ID, apitypes.PromoteRequest{Waves: []float64{25, 50, 100}})
	require.NoError(t, err)
	r := x.State.Rollout
	require.NotNil(t, r)
	assert.Equal(t, apitypes.RolloutRolling, r.State)
	assert.Equal(t, []apitypes.WaveState{"rolling", "pending", "pending"}, waveStates(x))
	assert.Equal(t, []int{1, 1, 2}, []int{r.Waves[0].Size, r.Waves[1].Size, r.Waves[2].Size})
	assert.True(t, onCandidate(f, "a1"), "the first wave is assigned by the promote itself")
	for _, uid := range []string{"a2", "a3", "a4"} {
		assert.False(t, onCandidate(f, uid), "%s waits for the first wave's gate", uid)
	}
	assert.Equal(t, "topk-rollup", f.assigned("a1").Pipeline)

	// Applied and healthy is not enough: the gate waits for own telemetry
	// from a whole minute after the apply.
	f.apply("a1")
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	w := x.State.Rollout.Waves[0]
	assert.Equal(t, apitypes.WaveGated, w.State)
	assert.Equal(t, []int{1, 1, 0}, []int{w.Applied, w.Healthy, w.Reporting})
	assert.Contains(t, w.Reason, "no own telemetry since applying")
	f.critical("a1", 4) // the minute of the apply: maybe the old collector's
	f.report("a1", f.assigned("a1").ConfigHash, apitypes.ConfigStatusApplying, "")
	f.c.ReconcileAll(ctx)
	require.Equal(t, apitypes.RolloutRolling, f.get(x.ID).State.Rollout.State, "the candidate sent again is no failure")
	f.apply("a1")
	f.c.ReconcileAll(ctx)
	assert.Equal(t, apitypes.WaveGated, f.get(x.ID).State.Rollout.Waves[0].State)
	assert.False(t, onCandidate(f, "a2"))

	f.advance(time.Minute)
	f.critical("a1", 4)
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	assert.Equal(t, []apitypes.WaveState{"passed", "rolling", "pending"}, waveStates(x))
	assert.Equal(t, 1, x.State.Rollout.Waves[0].Reporting)
	assert.True(t, onCandidate(f, "a2"), "the next wave starts once the gate passes")
	assert.False(t, onCandidate(f, "a3"))

	f.passGate("a2")
	assert.Equal(t, []apitypes.WaveState{"passed", "passed", "rolling"}, waveStates(f.get(x.ID)))
	assert.True(t, onCandidate(f, "a3"))
	assert.True(t, onCandidate(f, "a4"))
	f.passGate("a3", "a4")
	x = f.get(x.ID)
	assert.Equal(t, []apitypes.WaveState{"passed", "passed", "passed"}, waveStates(x))
	assert.Equal(t, apitypes.RolloutCompleted, x.State.Rollout.State)
	assert.True(t, x.State.Promoted)
	var causes []string
	for _, e := range x.Events {
		if e.To == "" {
			causes = append(causes, e.Cause)
		}
	}
	assert.Equal(t, []string{
		"promoting in 3 wave(s): 25% (+1), 50% (+1), 100% (+2); gate timeout 5m0s",
		"wave 1 of 3 (25%, 1 agent(s)): candidate assigned",
		"wave 1 of 3 (25%, 1 agent(s)) passed its gate",
		"wave 2 of 3 (50%, 1 agent(s)): candidate assigned",
		"wave 2 of 3 (50%, 1 agent(s)) passed its gate",
		"wave 3 of 3 (100%, 2 agent(s)): candidate assigned",
		"wave 3 of 3 (100%, 2 agent(s)) passed its gate",
		"rollout complete: the candidate runs on every target",
	}, causes)
	_, err = f.c.Promote(ctx, x.ID)
	assert.ErrorIs(t, err, ErrState, "already promoted")
}

func TestAFailedGateHaltsAndRollsBackOnlyItsWave(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		break_ func(f *fixture)
		reason string
	}{
		{"failed apply", func(f *fixture) {
			f.report("a2", f.assigned("a2").ConfigHash, apitypes.ConfigStatusFailed, "bind: address already in use")
		}, "agent a2 () could not apply the candidate: bind: address already in use"},
		{"unhealthy after applying", func(f *fixture) {
			f.apply("a2")
			f.c.ReconcileAll(f.t.Context())
			a, err := f.st.GetAgent(f.t.Context(), "a2")
			require.NoError(f.t, err)
			a.Health = &apitypes.Health{Healthy: false, Status: "StatusRecoverableError", LastError: "exporter refused"}
			require.NoError(f.t, f.st.UpsertAgent(f.t.Context(), a))
		}, "agent a2 () went unhealthy on the candidate: StatusRecoverableError exporter refused"},
		{"critical processes lost", func(f *fixture) {
			f.apply("a2")
			f.c.ReconcileAll(f.t.Context())
			f.advance(time.Minute)
			f.critical("a2", 3)
		}, "agent a2 () keeps 3 of its 4 critical processes (retention 75.0%, 100.0% required)"},
		{"back on another configuration", func(f *fixture) {
			f.apply("a2")
			f.c.ReconcileAll(f.t.Context())
			f.report("a2", "0123456789abcdef", apitypes.ConfigStatusApplied, "")
		}, "agent a2 () no longer runs the candidate (it reports 0123456789ab APPLIED)"},
		{"gate timeout", func(f *fixture) {
			f.apply("a2")
			f.c.ReconcileAll(f.t.Context())
			f.advance(DefaultGateTimeout + time.Second)
		}, "1 agent(s) did not pass the gate within 5m0s: agent a2 (): no own telemetry since applying yet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, x, before := rolloutFixture(t)
			ctx := t.Context()
			_, err := f.c.PromoteWith(ctx, x.ID, apitypes.PromoteRequest{Waves: []float64{25, 50, 100}})
			require.NoError(t, err)
			f.passGate("a1")
			require.True(t, onCandidate(f, "a2"))

			tt.break_(f)
			f.c.ReconcileAll(ctx)
			x = f.get(x.ID)
			r := x.State.Rollout
			assert.Equal(t, apitypes.RolloutHalted, r.State)
			assert.Equal(t, []apitypes.WaveState{"passed", "failed", "pending"}, waveStates(x))
			assert.Equal(t, tt.reason, r.Waves[1].Reason)
			assert.Equal(t, "wave 2 of 3 (50%, 1 agent(s)) failed its gate: "+tt.reason, r.Reason)
			assert.True(t, onCandidate(f, "a1"), "the wave that passed stays promoted")
			assert.Equal(t, before["a2"].ConfigHash, f.assigned("a2").ConfigHash, "the failed wave is rolled back")
			assert.Contains(t, f.assigned("a2").Reason, "rolled back: wave 2 of 3")
			for _, uid := range []string{"a3", "a4"} {
				assert.Equal(t, before[uid].ConfigHash, f.assigned(uid).ConfigHash, "%s was never promoted", uid)
			}
			var halted bool
			for _, e := range x.Events {
				halted = halted || strings.HasPrefix(e.Cause, "rollout halted: wave 2 of 3")
			}
			assert.True(t, halted, "the halt is an event")

			f.c.ReconcileAll(ctx)
			assert.False(t, onCandidate(f, "a3"), "a halted rollout stays halted")
			_, err = f.c.Promote(ctx, x.ID)
			assert.ErrorContains(t, err, "the rollout halted")

			// Rollback restores everyone, and the candidate may go out again.
			_, err = f.c.Rollback(ctx, x.ID)
			require.NoError(t, err)
			for uid, prev := range before {
				assert.Equal(t, prev.ConfigHash, f.assigned(uid).ConfigHash, "%s restored", uid)
			}
			assert.Equal(t, apitypes.RolloutRolledBack, f.get(x.ID).State.Rollout.State)
			_, err = f.c.PromoteWith(ctx, x.ID, apitypes.PromoteRequest{Waves: []float64{100}})
			require.NoError(t, err)
			for uid := range before {
				assert.True(t, onCandidate(f, uid), "%s promoted again, all at once", uid)
			}
		})
	}
}

func TestARolloutResumesOnARestartedController(t *testing.T) {
	t.Parallel()
	f, x, _ := rolloutFixture(t)
	ctx := t.Context()
	// The server dies while assigning the last wave, after saving it.
	crashing := &crashingStore{Store: f.st, uid: "a4"}
	f.c = f.replica(crashing)
	_, err := f.c.PromoteWith(ctx, x.ID, apitypes.PromoteRequest{Waves: []float64{25, 50, 100}})
	require.NoError(t, err)
	f.passGate("a1")
	f.passGate("a2")
	x = f.get(x.ID)
	require.Equal(t, []apitypes.WaveState{"passed", "passed", "rolling"}, waveStates(x))
	assert.False(t, onCandidate(f, "a4"), "the crash came before a4's assignment")

	// A new controller on the same store carries on.
	f.c = f.replica(f.st)
	f.c.ReconcileAll(ctx)
	assert.True(t, onCandidate(f, "a3"))
	assert.True(t, onCandidate(f, "a4"), "the interrupted wave is assigned again")
	f.passGate("a3", "a4")
	x = f.get(x.ID)
	assert.Equal(t, apitypes.RolloutCompleted, x.State.Rollout.State)
	var resumed []string
	for _, e := range x.Events {
		if strings.Contains(e.Cause, "interrupted wave") {
			resumed = append(resumed, e.Cause)
		}
	}
	assert.Equal(t, []string{"agent a4 (): the interrupted wave assigned the candidate again"}, resumed)
}

func TestRollbackMidRolloutRestoresEveryoneAndStopsTheWaves(t *testing.T) {
	t.Parallel()
	f, x, before := rolloutFixture(t)
	ctx := t.Context()
	_, err := f.c.Promote(ctx, x.ID) // default waves: 1 agent each for 4 targets
	require.NoError(t, err)
	f.passGate("a1")
	require.True(t, onCandidate(f, "a2"))

	_, err = f.c.Rollback(ctx, x.ID)
	require.NoError(t, err)
	x = f.get(x.ID)
	assert.Equal(t, apitypes.RolloutRolledBack, x.State.Rollout.State)
	assert.True(t, x.State.RolledBack)
	for range 3 {
		f.passGate("a2")
	}
	for uid, prev := range before {
		assert.Equal(t, prev.ConfigHash, f.assigned(uid).ConfigHash, "%s restored and left alone", uid)
	}
	assert.Equal(t, []apitypes.WaveState{"passed", "rolling", "pending", "pending"}, waveStates(f.get(x.ID)))
}

func TestPromoteRefusesBadWaves(t *testing.T) {
	t.Parallel()
	f, x, before := rolloutFixture(t)
	_, err := f.c.PromoteWith(t.Context(), x.ID, apitypes.PromoteRequest{Waves: []float64{10, 5, 100}})
	require.ErrorIs(t, err, ErrInvalidRequest)
	assert.ErrorContains(t, err, "waves: 5 after 10")
	_, err = f.c.PromoteWith(t.Context(), x.ID, apitypes.PromoteRequest{GateTimeout: apitypes.Duration(2 * time.Hour)})
	require.ErrorIs(t, err, ErrInvalidRequest)
	for uid, prev := range before {
		assert.Equal(t, prev.ConfigHash, f.assigned(uid).ConfigHash, fmt.Sprintf("%s untouched", uid))
	}
	assert.Nil(t, f.get(x.ID).State.Rollout)
}

func TestTwoReplicasStepARolloutOnce(t *testing.T) {
	t.Parallel()
	f, x, _ := rolloutFixture(t)
	ctx := t.Context()
	other := f.replica(f.st) // finds the rollout by its scan
	_, err := f.c.PromoteWith(ctx, x.ID, apitypes.PromoteRequest{Waves: []float64{25, 50, 100}})
	require.NoError(t, err)
	passWaves(t, f, func(int) *Controller { return other })
	x = f.get(x.ID)
	assert.Equal(t, apitypes.RolloutCompleted, x.State.Rollout.State)
	assert.Len(t, eventsOnce(t, x), 8, "promoting, 3 × (assigned, passed), complete")
}

// passWaves takes the waves 25, 50 and 100 % of a1–a4 through their gates,
// f.c and replica(wave) stepping together.
func passWaves(t *testing.T, f *fixture, replica func(wave int) *Controller) {
	t.Helper()
	for i, wave := range [][]string{{"a1"}, {"a2"}, {"a3", "a4"}} {
		other := replica(i)
		for _, uid := range wave {
			require.True(t, onCandidate(f, uid), "%s is in wave %d", uid, i+1)
			f.apply(uid)
		}
		together(t.Context(), 3, f.c, other)
		f.advance(time.Minute)
		for _, uid := range wave {
			f.critical(uid, 4)
		}
		together(t.Context(), 3, f.c, other)
	}
}

// eventsOnce checks each of x's events (not transitions) was recorded
// once, and returns them with their counts.
func eventsOnce(t *testing.T, x Experiment) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for _, e := range x.Events {
		if e.To == "" {
			seen[e.Cause]++
		}
	}
	for cause, n := range seen {
		assert.Equal(t, 1, n, "recorded once: %s", cause)
	}
	return seen
}

// A target removed from the inventory during a promote does not hold its
// wave back, and a wave that starts after its removal does not assign it.
func TestAPromoteLeavesOutTargetsRemovedFromTheInventory(t *testing.T) {
	t.Parallel()
	f, x, _ := rolloutFixture(t)
	ctx := t.Context()
	x, err := f.c.PromoteWith(ctx, x.ID, apitypes.PromoteRequest{Waves: []float64{50, 100}})
	require.NoError(t, err)
	require.True(t, onCandidate(f, "a2"))
	require.NoError(t, f.st.DeleteAgent(ctx, "a2"))
	require.NoError(t, f.st.DeleteAgent(ctx, "a4"))

	f.passGate("a1")
	x = f.get(x.ID)
	w := x.State.Rollout.Waves[0]
	require.Equal(t, []apitypes.WaveState{"passed", "rolling"}, waveStates(x), w.Reason)
	assert.Equal(t, 1, w.Removed)
	f.passGate("a3")
	x = f.get(x.ID)
	assert.Equal(t, apitypes.RolloutCompleted, x.State.Rollout.State)
	assert.True(t, x.State.Rollout.Waves[1].Agents[1].Removed, "a4 was gone before its wave")
	_, err = f.st.GetAssignment(ctx, "a4")
	assert.Error(t, err, "a removed target is not assigned")
}
