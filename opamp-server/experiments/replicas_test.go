package experiments

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// replica is a second controller over the fixture's store, catalog and
// clock, as another server replica.
func (f *fixture) replica(st store.Store) *Controller {
	f.t.Helper()
	set := f.c.set
	set.Store = st
	set.Assignments = assignments(f.t, st, set.Catalog)
	c, err := New(set)
	require.NoError(f.t, err)
	return c
}

// together reconciles with every controller at once, rounds times.
func together(ctx context.Context, rounds int, cs ...*Controller) {
	for range rounds {
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Go(func() { c.ReconcileAll(ctx) })
		}
		wg.Wait()
	}
}

func TestTwoReplicasNeverDoubleTransition(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	other := f.replica(f.st)
	before := f.agent("a1", map[string]string{"env": "test"})
	f.agent("a2", map[string]string{"env": "test"})

	x, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	stopped, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	_, err = other.Start(ctx, x.ID)
	require.NoError(t, err)
	_, err = f.c.Stop(ctx, stopped.ID)
	require.NoError(t, err)
	together(ctx, 4, f.c, other)
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)

	for _, tg := range x.State.Targets {
		f.report(tg.InstanceUID, tg.ConfigHash, apitypes.ConfigStatusApplied, "")
	}
	together(ctx, 4, f.c, other)
	require.Equal(t, apitypes.ExperimentRunning, f.get(x.ID).Status)
	f.advance(3 * time.Minute)
	together(ctx, 4, f.c, other)

	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentCompleted, x.Status, x.State.Error)
	assert.Equal(t, []string{"→pending", "pending→deploying", "deploying→running", "running→analyzing", "analyzing→completed"},
		transitions(x), "every transition is recorded once")
	assert.Equal(t, []string{"→pending", "pending→cancelled"}, transitions(f.get(stopped.ID)))
	assert.Equal(t, before.ConfigHash, f.assigned("a1").ConfigHash)
}

func TestAStaleReplicaNeverUndoesAPromotion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.agent("a1", map[string]string{"env": "test"})
	x := f.running(validSpec(apitypes.ModePaired))
	f.advance(3 * time.Minute)
	f.c.ReconcileAll(ctx)
	stale := f.get(x.ID)
	require.Equal(t, apitypes.ExperimentAnalyzing, stale.Status)

	// This replica completes the experiment and the candidate is promoted
	// while the other still acts on what it read before.
	f.c.ReconcileAll(ctx)
	_, err := f.c.Promote(ctx, x.ID)
	require.NoError(t, err)
	promoted := f.assigned("a1")
	require.Equal(t, "topk-rollup", promoted.Pipeline)

	err = f.replica(f.st).step(ctx, stale)
	require.ErrorIs(t, err, store.ErrConflict)
	assert.Equal(t, promoted.Generation, f.assigned("a1").Generation, "the promotion stands")
	assert.Equal(t, apitypes.ExperimentCompleted, f.get(x.ID).Status)
}

func TestAReconcileThatLearnsNothingWritesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.agent("a1", map[string]string{"env": "test"})
	f.agent("a2", map[string]string{"env": "test"})
	x := f.deployed(validSpec(apitypes.ModePaired))
	require.Equal(t, apitypes.ExperimentDeploying, x.Status)
	version := func() int64 {
		e, err := f.st.GetExperiment(ctx, x.ID)
		require.NoError(t, err)
		return e.Version
	}

	v := version()
	f.c.ReconcileAll(ctx)
	assert.Equal(t, v, version(), "no agent applied anything: nothing to save")

	f.report("a1", x.State.Targets[0].ConfigHash, apitypes.ConfigStatusApplied, "")
	f.c.ReconcileAll(ctx)
	assert.Equal(t, v+1, version(), "a1's progress is saved")
	applied := f.get(x.ID).State.Targets
	assert.True(t, applied[0].Applied)
	assert.False(t, applied[1].Applied)
	f.c.ReconcileAll(ctx)
	assert.Equal(t, v+1, version())
}

func TestEventsAreRecordedOnceWhenAnUpdateIsRetried(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.agent("a1", map[string]string{"env": "test"})
	x := f.running(validSpec(apitypes.ModePaired))
	f.advance(3 * time.Minute)
	f.c.ReconcileAll(ctx)
	f.c.ReconcileAll(ctx)
	require.Equal(t, apitypes.ExperimentCompleted, f.get(x.ID).Status)

	flaky := &conflictingStore{Store: f.st}
	c := f.replica(flaky)
	for _, action := range []func(context.Context, string) (Experiment, error){c.Promote, c.Rollback} {
		flaky.conflicts.Store(1)
		_, err := action(ctx, x.ID)
		require.NoError(t, err)
		assert.Zero(t, flaky.conflicts.Load(), "the first save conflicted")
	}
	var causes []string
	for _, e := range f.get(x.ID).Events {
		if e.To == "" {
			causes = append(causes, e.Cause)
		}
	}
	assert.Equal(t, []string{"promoting in 1 wave(s): 100% (+1); gate timeout 5m0s", "wave 1 of 1 (100%, 1 agent(s)): candidate assigned",
		"rolled back: previous configurations restored"}, causes)
}

// conflictingStore fails the next conflicts experiment updates with
// ErrConflict, as if another replica had just saved the experiment.
type conflictingStore struct {
	store.Store
	conflicts atomic.Int32
}

func (s *conflictingStore) UpdateExperiment(ctx context.Context, e store.Experiment) (store.Experiment, error) {
	if s.conflicts.Add(-1) >= 0 {
		return store.Experiment{}, store.ErrConflict
	}
	s.conflicts.Store(0)
	return s.Store.UpdateExperiment(ctx, e)
}

// listingStore tells the test about every experiment listing.
type listingStore struct {
	store.Store
	listings chan []string // the IDs of each listing
}

func (s *listingStore) ListExperiments(ctx context.Context, f store.ExperimentFilter, p store.Page) ([]store.Experiment, string, error) {
	exps, next, err := s.Store.ListExperiments(ctx, f, p)
	if slices.Equal(f.Status, []apitypes.ExperimentStatus{apitypes.ExperimentCompleted}) {
		return exps, next, err // the rollout scan, not a reconcile
	}
	ids := make([]string, 0, len(exps))
	for _, e := range exps {
		ids = append(ids, e.ID)
	}
	select {
	case s.listings <- ids:
	case <-ctx.Done():
	}
	return exps, next, err
}

func TestRunReactsToExperimentChangesAtOnceAndSkipsAgents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("a1", map[string]string{"env": "test"})
	listing := &listingStore{Store: f.st, listings: make(chan []string)}
	set := f.c.set
	set.Store, set.Tick = listing, time.Hour
	c, err := New(set)
	require.NoError(t, err)
	x, err := f.c.Create(t.Context(), validSpec(apitypes.ModePaired))
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	next := func() []string {
		select {
		case ids := <-listing.listings:
			return ids
		case <-time.After(time.Minute):
			require.FailNow(t, "Run did not reconcile")
			return nil
		}
	}
	assert.Equal(t, []string{x.ID}, next(), "Run reconciles as it starts")

	// Agents change with every message they send: no reason to reconcile.
	for range 20 {
		f.report("a1", "", apitypes.ConfigStatusApplying, "")
	}
	y, err := f.c.Create(t.Context(), validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	assert.Equal(t, []string{x.ID, y.ID}, next(), "a new experiment is the next reason to reconcile")

	// Start through the store, without the nudge Start gives its own
	// controller: only the change can wake Run within the hour's tick.
	_, err = f.c.update(t.Context(), x.ID, func(x *Experiment) error { x.State.StartRequested = true; return nil })
	require.NoError(t, err)
	for f.get(x.ID).Status != apitypes.ExperimentDeploying {
		require.NotNil(t, next())
	}
	assert.True(t, slices.ContainsFunc(f.get(x.ID).Events, func(e apitypes.ExperimentEvent) bool { return e.To == apitypes.ExperimentDeploying }))
}

// slowStore holds every assignment write until released: a replica inside
// a long deploy.
type slowStore struct {
	store.Store
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *slowStore) SetAssignments(ctx context.Context, asgs []apitypes.Assignment) ([]apitypes.Assignment, error) {
	s.once.Do(func() { close(s.entered) })
	<-s.release
	return s.Store.SetAssignments(ctx, asgs)
}

// A stop handled by one replica while another is inside the deploy's
// assignment loop waits for it, then every agent gets its configuration
// back: none is left on the experiment's.
func TestAStopNeverInterleavesWithADeploy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	before := map[string]apitypes.Assignment{
		"a1": f.agent("a1", map[string]string{"env": "test"}),
		"a2": f.agent("a2", map[string]string{"env": "test"}),
	}
	slow := &slowStore{Store: f.st, entered: make(chan struct{}), release: make(chan struct{})}
	deployer := f.replica(slow)
	x, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	// Started through the deployer: Start steps the experiment in the
	// background on the replica that took it.
	_, err = deployer.Start(ctx, x.ID)
	require.NoError(t, err)

	deployed := make(chan struct{})
	go func() { defer close(deployed); deployer.ReconcileAll(ctx) }()
	select {
	case <-slow.entered: // the deployer is storing the experiment's configurations
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the deploy never started")
	}

	stopped := make(chan error, 1)
	go func() { _, err := f.c.Stop(ctx, x.ID); stopped <- err }()
	select {
	case err := <-stopped:
		require.FailNow(t, "the stop went through in the middle of the deploy", "%v", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(slow.release)
	select {
	case <-deployed:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the deploy never ended")
	}
	select {
	case err := <-stopped:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the stop never went through")
	}

	together(ctx, 3, f.c, deployer)
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentCancelled, x.Status, x.State.Error)
	for uid, was := range before {
		assert.Equal(t, was.ConfigHash, f.assigned(uid).ConfigHash, "%s has its configuration back", uid)
	}
}
