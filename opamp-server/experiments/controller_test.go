package experiments

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

// fixture is a controller over a real embedded store and the real catalog,
// with a clock the test moves and agents the test reports for, as their
// supervisors would.
type fixture struct {
	t     *testing.T
	st    store.Store
	c     *Controller
	mu    sync.Mutex
	now   time.Time
	calls int
}

// assignments is the assignment service over st.
func assignments(t *testing.T, st store.Store, cat *catalog.Catalog) *assignment.Service {
	t.Helper()
	a, err := assignment.New(assignment.Settings{Store: st, Catalog: cat, Validate: distribution.ValidateYAML,
		OwnTelemetryURL: "http://127.0.0.1:8080/v1/metrics"})
	require.NoError(t, err)
	return a
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	f := &fixture{t: t, st: st, now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	f.c, err = New(Settings{
		Store: st, Catalog: cat,
		Assignments: assignments(t, st, cat),
		Analyze: func(_ context.Context, x Experiment, samples map[string][]apitypes.Sample) (apitypes.Results, error) {
			f.mu.Lock()
			f.calls++
			f.mu.Unlock()
			return apitypes.Results{Targets: len(samples), Verdict: apitypes.Verdict{Pass: true}}, nil
		},
		Now: func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now },
	})
	require.NoError(t, err)
	return f
}

func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// agent registers an online agent with a baseline assignment.
func (f *fixture) agent(uid string, labels map[string]string) apitypes.Assignment {
	f.t.Helper()
	require.NoError(f.t, f.st.UpsertAgent(f.t.Context(), apitypes.Agent{InstanceUID: uid, Labels: labels, Online: true,
		Health: &apitypes.Health{Healthy: true}, FirstSeen: f.now, LastSeen: f.now}))
	asg, err := f.st.SetAssignment(f.t.Context(), apitypes.Assignment{InstanceUID: uid, Pipeline: "baseline",
		Config: "receivers: {}\n", Reason: "before"})
	require.NoError(f.t, err)
	return asg
}

// report makes an agent report a remote-config status, as its supervisor.
func (f *fixture) report(uid, hash string, status apitypes.ConfigStatus, msg string) {
	f.t.Helper()
	a, err := f.st.GetAgent(f.t.Context(), uid)
	require.NoError(f.t, err)
	a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: hash, Status: status, ErrorMessage: msg}
	if status == apitypes.ConfigStatusFailed {
		a.FailedConfigHashes = append(a.FailedConfigHashes, hash)
	}
	require.NoError(f.t, f.st.UpsertAgent(f.t.Context(), a))
}

func (f *fixture) get(id string) Experiment {
	f.t.Helper()
	x, err := f.c.Get(f.t.Context(), id)
	require.NoError(f.t, err)
	return x
}

func validSpec(mode apitypes.Mode) apitypes.ExperimentSpec {
	return apitypes.ExperimentSpec{Name: "t", Targets: apitypes.Targets{Selector: "env=test"}, Mode: mode,
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Parameters: map[string]any{"system_metrics": false},
		Duration:   apitypes.Duration(2 * time.Minute), Warmup: apitypes.Duration(30 * time.Second)}
}

func TestPairedLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	before := f.agent("a1", map[string]string{"env": "test"})
	f.agent("other", map[string]string{"env": "prod"})

	x, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	assert.Equal(t, apitypes.ExperimentPending, x.Status)
	f.c.ReconcileAll(ctx)
	assert.Equal(t, apitypes.ExperimentPending, f.get(x.ID).Status, "not started yet")

	_, err = f.c.Start(ctx, x.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status)
	require.Len(t, x.State.Targets, 1, "only the selected agent")
	tg := x.State.Targets[0]
	assert.Equal(t, "a1", tg.InstanceUID)
	assert.Equal(t, before.ConfigHash, tg.Previous.ConfigHash)
	asg, err := f.st.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, tg.ConfigHash, asg.ConfigHash)
	assert.Contains(t, asg.Config, "cost_meter/candidate")
	assert.Contains(t, asg.Config, "cost_meter/baseline")
	untouched, err := f.st.GetAssignment(ctx, "other")
	require.NoError(t, err)
	assert.Equal(t, "before", untouched.Reason)

	// APPLYING is not enough; APPLIED and healthy is.
	f.report("a1", tg.ConfigHash, apitypes.ConfigStatusApplying, "")
	f.c.ReconcileAll(ctx)
	assert.Equal(t, apitypes.ExperimentDeploying, f.get(x.ID).Status)
	f.report("a1", tg.ConfigHash, apitypes.ConfigStatusApplied, "")
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentRunning, x.Status)
	// Running at 12:00:00 with a 30 s warmup: measuring starts at the next
	// whole minute, so the window is two whole minutes.
	assert.Equal(t, time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), x.State.RunningSince)
	assert.Equal(t, x.State.RunningSince.Add(time.Minute), x.State.MeasureFrom)
	assert.Equal(t, x.State.MeasureFrom.Add(2*time.Minute), x.State.EndsAt)

	f.advance(2*time.Minute + 59*time.Second)
	f.c.ReconcileAll(ctx)
	assert.Equal(t, apitypes.ExperimentRunning, f.get(x.ID).Status)
	f.advance(time.Second)
	f.c.ReconcileAll(ctx) // → analyzing
	f.c.ReconcileAll(ctx) // → completed
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentCompleted, x.Status, x.State.Error)
	assert.Equal(t, "pass", x.State.Verdict)
	require.NotNil(t, x.State.Results)
	assert.Equal(t, 1, x.State.Results.Targets)
	assert.True(t, x.State.Restored)
	restored, err := f.st.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, before.ConfigHash, restored.ConfigHash, "the agent gets its previous configuration back")

	var path []apitypes.ExperimentStatus
	for _, e := range x.Events {
		if e.To != "" {
			path = append(path, e.To)
		}
	}
	assert.Equal(t, []apitypes.ExperimentStatus{"pending", "deploying", "running", "analyzing", "completed"}, path)

	// Promote, then roll back.
	_, err = f.c.Promote(ctx, x.ID)
	require.NoError(t, err)
	promoted, err := f.st.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, "topk-rollup", promoted.Pipeline)
	assert.NotContains(t, promoted.Config, "cost_meter/candidate", "promoted alone, not paired")
	_, err = f.c.Promote(ctx, x.ID)
	assert.ErrorIs(t, err, ErrState)
	_, err = f.c.Rollback(ctx, x.ID)
	require.NoError(t, err)
	back, err := f.st.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, before.ConfigHash, back.ConfigHash)
}

func TestFailedApplyRestoresEveryAgent(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	b1 := f.agent("a1", map[string]string{"env": "test"})
	b2 := f.agent("a2", map[string]string{"env": "test"})
	x, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	_, err = f.c.Start(ctx, x.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status)
	f.report("a1", x.State.Targets[0].ConfigHash, apitypes.ConfigStatusApplied, "")
	f.report("a2", x.State.Targets[1].ConfigHash, apitypes.ConfigStatusFailed, "bind: address already in use")
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentFailed, x.Status)
	assert.Contains(t, x.State.Error, "bind: address already in use")
	for uid, want := range map[string]string{"a1": b1.ConfigHash, "a2": b2.ConfigHash} {
		asg, err := f.st.GetAssignment(ctx, uid)
		require.NoError(t, err)
		assert.Equal(t, want, asg.ConfigHash, "%s restored", uid)
	}
	_, err = f.c.Results(ctx, x.ID)
	assert.ErrorIs(t, err, ErrState)
}

func TestDeployTimeoutAndStop(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.agent("a1", map[string]string{"env": "test"})

	x, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	_, err = f.c.Start(ctx, x.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	f.advance(DefaultDeployTimeout + time.Second)
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	assert.Equal(t, apitypes.ExperimentFailed, x.Status)
	assert.Contains(t, x.State.Error, "did not apply")

	y, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	_, err = f.c.Stop(ctx, y.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	assert.Equal(t, apitypes.ExperimentCancelled, f.get(y.ID).Status)
	_, err = f.c.Start(ctx, y.ID)
	assert.ErrorIs(t, err, ErrState)
	_, err = f.c.Stop(ctx, y.ID)
	assert.ErrorIs(t, err, ErrState)
}

func TestSplitCohortsAreDeterministicAndNeedTwoAgents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.agent("solo", map[string]string{"env": "test"})
	x, err := f.c.Create(ctx, validSpec(apitypes.ModeSplit))
	require.NoError(t, err)
	_, err = f.c.Start(ctx, x.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	assert.Equal(t, apitypes.ExperimentFailed, x.Status)
	assert.Contains(t, x.State.Error, "at least two agents")

	for _, uid := range []string{"a", "b", "c", "d"} {
		f.agent(uid, map[string]string{"env": "split"})
	}
	s := validSpec(apitypes.ModeSplit)
	s.Targets.Selector = "env=split"
	first, err := f.c.assignVariants(Experiment{Experiment: apitypes.Experiment{Spec: s}}, []apitypes.ExperimentTarget{{InstanceUID: "a"}, {InstanceUID: "b"}, {InstanceUID: "c"}, {InstanceUID: "d"}})
	require.NoError(t, err)
	again, err := f.c.assignVariants(Experiment{Experiment: apitypes.Experiment{Spec: s}}, []apitypes.ExperimentTarget{{InstanceUID: "d"}, {InstanceUID: "c"}, {InstanceUID: "b"}, {InstanceUID: "a"}})
	require.NoError(t, err)
	assert.Equal(t, first, again, "cohorts depend on the UIDs, not their order")

	y, err := f.c.Create(ctx, s)
	require.NoError(t, err)
	_, err = f.c.Start(ctx, y.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	y = f.get(y.ID)
	require.Equal(t, apitypes.ExperimentDeploying, y.Status, y.State.Error)
	counts := map[string]int{}
	for _, tg := range y.State.Targets {
		counts[tg.Variant]++
		asg, err := f.st.GetAssignment(ctx, tg.InstanceUID)
		require.NoError(t, err)
		assert.Contains(t, asg.Config, "variant: "+tg.Variant)
	}
	assert.Equal(t, map[string]int{"baseline": 2, "candidate": 2}, counts)
}

func TestAgentsWithoutAssignmentAreRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	require.NoError(t, f.st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: "bare", Labels: map[string]string{"env": "test"}, Online: true}))
	x, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	_, err = f.c.Start(ctx, x.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	assert.Equal(t, apitypes.ExperimentFailed, x.Status)
	assert.Contains(t, x.State.Error, "no assignment to return to")
	_, err = f.st.GetAssignment(ctx, "bare")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing was assigned")
}

func TestCreateRefusesBadSpecs(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s := validSpec(apitypes.ModePaired)
	s.Candidate.Pipeline = "no-such-pipeline"
	_, err := f.c.Create(t.Context(), s)
	assert.ErrorIs(t, err, ErrInvalidSpec)
	assert.Contains(t, err.Error(), "no-such-pipeline")
}

func TestParseSpec(t *testing.T) {
	t.Parallel()
	s, err := ParseSpec([]byte(`
name: web rollout
targets: {selector: "env=prod,host.name=~web-.*"}
baseline: {current: true}
candidate: {pipeline: topk-rollup, parameters: {k: 15}}
duration: 10m
critical_processes:
  - {name: db, executable_name: postgres}
success_criteria: {min_series_reduction: 0.9}
`))
	require.NoError(t, err)
	assert.Equal(t, apitypes.ModePaired, s.Mode)
	assert.Equal(t, DefaultWarmup, s.Warmup.D())
	assert.Equal(t, 10*time.Minute, s.Duration.D())
	assert.True(t, s.Baseline.Current)

	raw, err := json.Marshal(s)
	require.NoError(t, err)
	again, err := ParseSpec(raw)
	require.NoError(t, err, "a spec survives JSON: %s", raw)
	assert.Equal(t, s, again)

	for _, tt := range []struct{ spec, want string }{
		{`name: x`, "targets.selector"},
		{"name: x\ntargets: {selector: env=a}\ncandidate: {pipeline: topk}\nduration: 1m\nmode: sideways", "mode"},
		{"name: x\ntargets: {selector: env=a}\ncandidate: {pipeline: topk}\nduration: 5s", "duration"},
		{"name: x\ntargets: {selector: env=a}\ncandidate: {pipeline: topk}\nduration: 1m\ncolour: red", "colour"},
		{"name: x\ntargets: {selector: env=a}\ncandidate: {pipeline: topk}\nduration: 1m\nsuccess_criteria: {max_cpu_increase: 0.1}", "split mode"},
		{"name: x\ntargets: {selector: env=a}\nduration: 1m", "candidate.pipeline"},
		{"name: x\ntargets: {selector: \"env=~(\"}\ncandidate: {pipeline: topk}\nduration: 1m", "targets.selector"},
	} {
		_, err := ParseSpec([]byte(tt.spec))
		require.Error(t, err, tt.spec)
		assert.True(t, strings.Contains(err.Error(), tt.want), "%q: %v", tt.spec, err)
	}
}
