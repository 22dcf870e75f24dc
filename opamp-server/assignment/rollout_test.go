package assignment

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// rolloutFixture is four healthy agents, a1–a4; a1 and a2 run baseline,
// a3 and a4 have no assignment.
type rolloutFixture struct {
	t   *testing.T
	svc *Service
	st  store.Store
	r   *Rollouts
	now time.Time
	// before are the assignments a1 and a2 had.
	before map[string]apitypes.Assignment
}

func newRolloutFixture(t *testing.T, edit ...func(*Settings)) *rolloutFixture {
	t.Helper()
	svc, _, _ := newService(t, edit...)
	st := svc.set.Store
	f := &rolloutFixture{t: t, svc: svc, st: st, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), before: map[string]apitypes.Assignment{}}
	f.r = NewRollouts(svc, func() time.Time { return f.now })
	ctx := t.Context()
	for _, uid := range []string{"a1", "a2", "a3", "a4"} {
		require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": "prod"}, Online: true,
			Health: &apitypes.Health{Healthy: true}}))
	}
	for _, uid := range []string{"a1", "a2"} {
		asg, err := svc.Assign(ctx, uid, apitypes.AssignRequest{Pipeline: "baseline", Reason: "before"}, Grants{})
		require.NoError(t, err)
		f.before[uid] = asg
	}
	return f
}

func (f *rolloutFixture) start(waves ...float64) apitypes.AssignmentRollout {
	f.t.Helper()
	ro, err := f.r.Start(f.t.Context(), apitypes.BulkAssignRequest{Selector: "env=prod",
		AssignRequest: apitypes.AssignRequest{Pipeline: "topk-rollup", Reason: "cheaper"},
		WaveOptions:   apitypes.WaveOptions{Waves: waves}}, Grants{}, "alice")
	require.NoError(f.t, err)
	return ro
}

func (f *rolloutFixture) get(id string) apitypes.AssignmentRollout {
	f.t.Helper()
	ro, err := f.r.Get(f.t.Context(), id)
	require.NoError(f.t, err)
	return ro
}

func (f *rolloutFixture) assigned(uid string) string {
	f.t.Helper()
	asg, err := f.st.GetAssignment(f.t.Context(), uid)
	if errors.Is(err, store.ErrNotFound) {
		return "none"
	}
	require.NoError(f.t, err)
	return asg.Pipeline
}

// report makes an agent report a status for its current assignment.
func (f *rolloutFixture) report(uid string, status apitypes.ConfigStatus, edit ...func(*apitypes.Agent)) {
	f.t.Helper()
	asg, err := f.st.GetAssignment(f.t.Context(), uid)
	require.NoError(f.t, err)
	a, err := f.st.GetAgent(f.t.Context(), uid)
	require.NoError(f.t, err)
	a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: asg.ConfigHash, Status: status, ErrorMessage: "boom"}
	if status == apitypes.ConfigStatusFailed {
		a.FailedConfigHashes = append(a.FailedConfigHashes, asg.ConfigHash)
	}
	for _, e := range edit {
		e(&a)
	}
	require.NoError(f.t, f.st.UpsertAgent(f.t.Context(), a))
}

// pass takes agents through the gate: applied and healthy, then own
// telemetry a minute later.
func (f *rolloutFixture) pass(id string, uids ...string) {
	f.t.Helper()
	for _, uid := range uids {
		f.report(uid, apitypes.ConfigStatusApplied)
	}
	require.NoError(f.t, f.r.Step(f.t.Context(), id))
	f.now = f.now.Add(time.Minute)
	for _, uid := range uids {
		require.NoError(f.t, f.st.PutSamples(f.t.Context(), []apitypes.Sample{{InstanceUID: uid, Name: "phoenix_cost_bytes",
			Minute: f.now.Truncate(time.Minute), Value: 1}}))
	}
	require.NoError(f.t, f.r.Step(f.t.Context(), id))
}

func pipelines(f *rolloutFixture) []string {
	var out []string
	for _, uid := range []string{"a1", "a2", "a3", "a4"} {
		out = append(out, f.assigned(uid))
	}
	return out
}

func TestRolloutWavesGoOutInOrderOnceEachGatePasses(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ro := f.start(25, 50, 100)
	require.Len(t, ro.Waves, 3)
	assert.Equal(t, apitypes.RolloutRolling, ro.State)
	assert.Equal(t, apitypes.WaveRolling, ro.Waves[0].State)
	assert.Equal(t, []string{"topk-rollup", "baseline", "none", "none"}, pipelines(f), "only the first wave goes out at once")

	f.report("a1", apitypes.ConfigStatusApplied)
	require.NoError(t, f.r.Step(t.Context(), ro.ID))
	assert.Equal(t, "waiting: agent a1 (): no own telemetry since applying yet", f.get(ro.ID).Waves[0].Reason,
		"applied is not enough: the gate waits for own telemetry")
	assert.Equal(t, "baseline", f.assigned("a2"))

	f.pass(ro.ID, "a1")
	ro = f.get(ro.ID)
	assert.Equal(t, apitypes.WavePassed, ro.Waves[0].State)
	assert.Nil(t, ro.Waves[0].Agents[0].Before, "a passed wave forgets what it replaced")
	assert.NotNil(t, ro.Waves[1].Agents[0].Before, "the wave in progress keeps it")
	assert.Equal(t, []string{"topk-rollup", "topk-rollup", "none", "none"}, pipelines(f))

	f.pass(ro.ID, "a2")
	assert.Equal(t, []string{"topk-rollup", "topk-rollup", "topk-rollup", "topk-rollup"}, pipelines(f))
	f.pass(ro.ID, "a3", "a4")
	ro = f.get(ro.ID)
	assert.Equal(t, apitypes.RolloutCompleted, ro.State)
	for _, w := range ro.Waves {
		assert.Equal(t, apitypes.WavePassed, w.State)
		assert.Equal(t, w.Size, w.Reporting)
	}
	active, err := f.r.List(t.Context(), true, 0)
	require.NoError(t, err)
	assert.Empty(t, active)
}

func TestRolloutHaltsAndRestoresOnlyTheFailedWave(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		fail   func(f *rolloutFixture, id string)
		reason string
	}{
		{"FAILED", func(f *rolloutFixture, _ string) { f.report("a2", apitypes.ConfigStatusFailed) },
			"agent a2 () could not apply the new configuration: boom"},
		{"unhealthy", func(f *rolloutFixture, id string) {
			f.report("a2", apitypes.ConfigStatusApplied)
			require.NoError(f.t, f.r.Step(f.t.Context(), id))
			f.report("a2", apitypes.ConfigStatusApplied, func(a *apitypes.Agent) { a.Health = &apitypes.Health{Status: "crashing"} })
		}, "agent a2 () went unhealthy on the new configuration: crashing"},
		{"another hash", func(f *rolloutFixture, id string) {
			f.report("a2", apitypes.ConfigStatusApplied)
			require.NoError(f.t, f.r.Step(f.t.Context(), id))
			f.report("a2", apitypes.ConfigStatusApplied, func(a *apitypes.Agent) { a.RemoteConfig.Hash = "0123456789abcdef" })
		}, "agent a2 () no longer runs the new configuration (it reports 0123456789ab APPLIED)"},
		{"timeout", func(f *rolloutFixture, _ string) { f.now = f.now.Add(DefaultGateTimeout + time.Second) },
			"1 agent(s) did not pass the gate within 5m0s: agent a2 (): not applied yet"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newRolloutFixture(t)
			ro := f.start(25, 50, 100)
			f.pass(ro.ID, "a1")
			tt.fail(f, ro.ID)
			require.NoError(t, f.r.Step(t.Context(), ro.ID))
			ro = f.get(ro.ID)
			assert.Equal(t, apitypes.RolloutHalted, ro.State)
			assert.Equal(t, "wave 2 of 3 (50%, 1 agent(s)) failed its gate: "+tt.reason, ro.Reason)
			assert.Equal(t, []apitypes.WaveState{apitypes.WavePassed, apitypes.WaveFailed, apitypes.WavePending},
				[]apitypes.WaveState{ro.Waves[0].State, ro.Waves[1].State, ro.Waves[2].State})
			assert.Equal(t, []string{"topk-rollup", "baseline", "none", "none"}, pipelines(f),
				"the failed wave gets its previous assignment back; the passed wave keeps the new one")
			restored, err := f.st.GetAssignment(t.Context(), "a2")
			require.NoError(t, err)
			assert.Equal(t, f.before["a2"].ConfigHash, restored.ConfigHash, "the very configuration it had")
			assert.Empty(t, ro.Waves[1].Agents[0].Before.Config, "a catalog pipeline is kept without its rendering")
			require.NoError(t, f.r.Step(t.Context(), ro.ID))
			assert.Equal(t, ro, f.get(ro.ID), "a halted rollout stays halted")
		})
	}
}

func TestRolloutRestoresNoAssignmentToAgentsThatHadNone(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ro := f.start(50, 100)
	f.pass(ro.ID, "a1", "a2")
	assert.Equal(t, []string{"topk-rollup", "topk-rollup", "topk-rollup", "topk-rollup"}, pipelines(f))
	f.report("a3", apitypes.ConfigStatusFailed)
	require.NoError(t, f.r.Step(t.Context(), ro.ID))
	assert.Equal(t, apitypes.RolloutHalted, f.get(ro.ID).State)
	assert.Equal(t, []string{"topk-rollup", "topk-rollup", "none", "none"}, pipelines(f))
}

func TestRolloutHalt(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ro := f.start(25, 100)
	ro, err := f.r.Halt(t.Context(), ro.ID, "bob")
	require.NoError(t, err)
	assert.Equal(t, apitypes.RolloutHalted, ro.State)
	assert.Equal(t, "wave 1 of 2 (25%, 1 agent(s)) halted by bob", ro.Reason)
	assert.Equal(t, []string{"baseline", "baseline", "none", "none"}, pipelines(f))
	_, err = f.r.Halt(t.Context(), ro.ID, "bob")
	assert.ErrorIs(t, err, ErrRollout)
	_, err = f.r.Halt(t.Context(), "nope", "bob")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// failingStore fails assignment writes while fail is set: a replica that
// dies between saving a wave and assigning it.
type failingStore struct {
	store.Store
	fail bool
}

func (s *failingStore) SetAssignments(ctx context.Context, asgs []apitypes.Assignment) ([]apitypes.Assignment, error) {
	if s.fail {
		return nil, errors.New("replica died")
	}
	return s.Store.SetAssignments(ctx, asgs)
}

func TestRolloutResumesFromTheStoreAfterARestart(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ro := f.start(25, 50, 100)

	// The replica that passes wave 1 saves wave 2 as started and dies
	// before assigning it.
	fs := &failingStore{Store: f.st, fail: true}
	set := f.svc.set
	set.Store = fs
	dying, err := New(set)
	require.NoError(t, err)
	f.report("a1", apitypes.ConfigStatusApplied)
	require.NoError(t, f.r.Step(t.Context(), ro.ID))
	f.now = f.now.Add(time.Minute)
	require.NoError(t, f.st.PutSamples(t.Context(), []apitypes.Sample{{InstanceUID: "a1", Name: "phoenix_cost_bytes",
		Minute: f.now.Truncate(time.Minute), Value: 1}}))
	err = NewRollouts(dying, func() time.Time { return f.now }).Step(t.Context(), ro.ID)
	require.ErrorContains(t, err, "replica died")
	assert.Equal(t, apitypes.WaveRolling, f.get(ro.ID).Waves[1].State)
	assert.Equal(t, "baseline", f.assigned("a2"))

	// A new process, with nothing but the store, picks it up.
	restarted := NewRollouts(f.svc, func() time.Time { return f.now })
	restarted.StepAll(t.Context())
	assert.Equal(t, "topk-rollup", f.assigned("a2"), "the interrupted wave is assigned again")
	f.r = restarted
	f.pass(ro.ID, "a2")
	f.pass(ro.ID, "a3", "a4")
	assert.Equal(t, apitypes.RolloutCompleted, f.get(ro.ID).State)
}

func TestRolloutConcurrentStepsConflictInsteadOfRepeating(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ro := f.start(25, 100)
	rec, doc, err := f.r.load(t.Context(), ro.ID)
	require.NoError(t, err)
	f.pass(ro.ID, "a1") // another replica moves on meanwhile
	stale := &stepper{r: f.r, rec: rec, doc: &doc}
	assert.ErrorIs(t, stale.failWave(t.Context(), 0, "stale"), store.ErrConflict)
	assert.Equal(t, apitypes.RolloutRolling, f.get(ro.ID).State, "the stale step changed nothing")
	assert.Equal(t, "topk-rollup", f.assigned("a1"))
}

func TestValidateWaveOptions(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateWaveOptions(apitypes.WaveOptions{}))
	require.NoError(t, ValidateWaveOptions(apitypes.WaveOptions{Waves: []float64{1, 10, 50, 100}, GateTimeout: apitypes.Duration(time.Minute)}))
	for name, tt := range map[string]struct {
		o   apitypes.WaveOptions
		msg string
	}{
		"timeout alone":  {apitypes.WaveOptions{GateTimeout: apitypes.Duration(time.Minute)}, "gate_timeout: only with waves"},
		"not increasing": {apitypes.WaveOptions{Waves: []float64{50, 10, 100}}, "waves: 10 after 50"},
		"short":          {apitypes.WaveOptions{Waves: []float64{10, 50}}, "waves: the last wave is 50"},
		"too many":       {apitypes.WaveOptions{Waves: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100}}, "waves: at most 10"},
		"timeout short":  {apitypes.WaveOptions{Waves: []float64{100}, GateTimeout: apitypes.Duration(10 * time.Second)}, "gate_timeout: must be between 30s and 1h0m0s"},
		"timeout long":   {apitypes.WaveOptions{Waves: []float64{100}, GateTimeout: apitypes.Duration(2 * time.Hour)}, "gate_timeout: must be between"},
	} {
		err := ValidateWaveOptions(tt.o)
		assert.ErrorIs(t, err, ErrRequest, name)
		assert.ErrorContains(t, err, tt.msg, name)
	}
}

func TestRolloutStartRefusesWhatCannotRenderAndStoresNothing(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ctx := t.Context()
	a, err := f.st.GetAgent(ctx, "a3")
	require.NoError(t, err)
	a.Labels[apitypes.AgentParamLabelPrefix+"health_check_endpoint"] = "no-port" // not host:port
	require.NoError(t, f.st.UpsertAgent(ctx, a))
	req := apitypes.BulkAssignRequest{Selector: "env=prod", AssignRequest: apitypes.AssignRequest{Pipeline: "baseline"},
		WaveOptions: apitypes.WaveOptions{Waves: []float64{50, 100}}}
	_, err = f.r.Start(ctx, req, Grants{}, "alice")
	assert.True(t, IsRenderFailure(err), "%v", err)
	req.Selector = "env=dev"
	_, err = f.r.Start(ctx, req, Grants{}, "alice")
	assert.ErrorIs(t, err, ErrNoMatch)
	req.Selector, req.Waves = "env=prod", []float64{50}
	_, err = f.r.Start(ctx, req, Grants{}, "alice")
	assert.ErrorIs(t, err, ErrRequest)
	list, err := f.r.List(ctx, false, 0)
	require.NoError(t, err)
	assert.Empty(t, list)
	assert.Equal(t, []string{"baseline", "baseline", "none", "none"}, pipelines(f), "nothing was assigned")
}

func TestRolloutHaltRestoresAVerbatimConfigurationWhole(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ctx := t.Context()
	was, err := f.svc.Assign(ctx, "a1", apitypes.AssignRequest{Config: verbatim("", "")}, Grants{})
	require.NoError(t, err)
	ro := f.start(25, 100)
	assert.Equal(t, was.Config, f.get(ro.ID).Waves[0].Agents[0].Before.Config)
	_, err = f.r.Halt(ctx, ro.ID, "bob")
	require.NoError(t, err)
	now, err := f.st.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, was.ConfigHash, now.ConfigHash)
	assert.Equal(t, was.Config, now.Config)
}

func TestRolloutStepSurvivesOddStoredDocuments(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ctx := t.Context()
	for id, doc := range map[string]string{
		"empty-halting": `{"state":"halting","waves":[]}`,
		"empty-rolling": `{"state":"rolling"}`,
		"not-a-rollout": `{"state":42}`,
	} {
		_, err := f.st.CreateRollout(ctx, store.Rollout{ID: id, Active: true, Doc: []byte(doc)})
		require.NoError(t, err)
	}
	f.r.StepAll(ctx) // logs, never panics
	assert.Equal(t, apitypes.RolloutHalted, f.get("empty-halting").State)
	assert.Equal(t, apitypes.RolloutCompleted, f.get("empty-rolling").State)
	require.Error(t, f.r.Step(ctx, "not-a-rollout"))
	_, err := f.r.Halt(ctx, "not-a-rollout", "bob")
	require.Error(t, err)
}
