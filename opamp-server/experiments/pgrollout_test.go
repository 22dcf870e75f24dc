package experiments

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/pgstore"
	"github.com/phoenix/platform/test/pgtest"
)

// TestARolloutOnPostgresSurvivesReplicasAndARestart runs a rollout on
// PostgreSQL with two replicas stepping it side by side, each with its own
// connections (so its own experiment locks), and a third that replaces one
// of them midway.
func TestARolloutOnPostgresSurvivesReplicasAndARestart(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Start(t)
	open := func() store.Store {
		st, err := pgstore.Open(t.Context(), dsn)
		require.NoError(t, err)
		t.Cleanup(func() { _ = st.Close() })
		return st
	}
	f := newFixture(t)
	ctx := t.Context()
	f.st = open()
	f.c = f.replica(f.st)
	other := f.replica(open())
	before := map[string]apitypes.Assignment{}
	for _, uid := range []string{"a1", "a2", "a3", "a4"} {
		before[uid] = f.agent(uid, map[string]string{"env": "test"})
	}
	x := f.running(validSpec(apitypes.ModePaired))
	f.advance(3 * time.Minute)
	together(ctx, 2, f.c, other)
	require.Equal(t, apitypes.ExperimentCompleted, f.get(x.ID).Status)
	for uid := range before {
		f.critical(uid, 4)
	}

	_, err := other.PromoteWith(ctx, x.ID, apitypes.PromoteRequest{Waves: []float64{25, 50, 100}})
	require.NoError(t, err)
	passWaves(t, f, func(wave int) *Controller {
		if wave == 1 {
			other = f.replica(open()) // a restarted replica
		}
		return other
	})
	x = f.get(x.ID)
	require.Equal(t, apitypes.RolloutCompleted, x.State.Rollout.State)
	eventsOnce(t, x)

	_, err = f.c.Rollback(ctx, x.ID)
	require.NoError(t, err)
	for uid, prev := range before {
		assert.Equal(t, prev.ConfigHash, f.assigned(uid).ConfigHash, "%s restored", uid)
	}
}
