package assignment

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/pgstore"
	"github.com/phoenix/platform/test/pgtest"
)

// TestRolloutOnPostgresStepsOnceAcrossReplicas steps one rollout from two
// replicas at once, each on its own connections, while the fleet passes
// every gate: the compare-and-swap lets one of them advance each step, so
// each agent is assigned exactly once.
func TestRolloutOnPostgresStepsOnceAcrossReplicas(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	open := func() store.Store {
		st, err := pgstore.Open(t.Context(), dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	f := newRolloutFixture(t, func(s *Settings) { s.Store = open() })
	set := f.svc.set
	set.Store = open()
	otherSvc, err := New(set)
	require.NoError(t, err)
	other := NewRollouts(otherSvc, func() time.Time { return f.now })
	generations := map[string]int64{}
	for _, uid := range []string{"a1", "a2", "a3", "a4"} {
		asg, err := f.st.GetAssignment(t.Context(), uid)
		if err == nil {
			generations[uid] = asg.Generation
		}
	}

	ro := f.start(25, 50, 100)
	both := func() {
		var wg sync.WaitGroup
		for _, r := range []*Rollouts{f.r, other} {
			wg.Go(func() { r.StepAll(t.Context()) })
		}
		wg.Wait()
	}
	for _, wave := range [][]string{{"a1"}, {"a2"}, {"a3", "a4"}} {
		for _, uid := range wave {
			f.report(uid, apitypes.ConfigStatusApplied)
		}
		both()
		f.now = f.now.Add(time.Minute)
		for _, uid := range wave {
			require.NoError(t, f.st.PutSamples(t.Context(), []apitypes.Sample{{InstanceUID: uid, Name: "phoenix_cost_bytes",
				Minute: f.now.Truncate(time.Minute), Value: 1}}))
		}
		both()
	}
	assert.Equal(t, apitypes.RolloutCompleted, f.get(ro.ID).State)
	for _, uid := range []string{"a1", "a2", "a3", "a4"} {
		asg, err := f.st.GetAssignment(t.Context(), uid)
		require.NoError(t, err)
		assert.Equal(t, "topk-rollup", asg.Pipeline, uid)
		assert.Equal(t, generations[uid]+1, asg.Generation, "%s was assigned once", uid)
	}
}
