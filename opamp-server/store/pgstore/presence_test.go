package pgstore_test

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/test/pgtest"
)

// TestReplicasExpireALeaseOnce: every replica expires leases; when several
// do at once, one of them acts on a dead replica's lease and the others
// find nothing, so each agent is marked offline (and announced) once.
func TestReplicasExpireALeaseOnce(t *testing.T) {
	t.Parallel()
	dsn := pgtest.StartShared(t)
	replicas := []store.Store{open(t, dsn), open(t, dsn), open(t, dsn), open(t, dsn)}
	ctx := t.Context()
	now := time.Now()
	for _, uid := range []string{"a1", "a2", "a3"} {
		require.NoError(t, replicas[0].UpsertAgent(ctx, apitypes.Agent{InstanceUID: uid, Online: true, ServerID: "dead"}))
	}
	require.NoError(t, replicas[0].RenewPresence(ctx, "dead", now.Add(-time.Second)))
	require.NoError(t, replicas[0].RenewPresence(ctx, "alive", now.Add(time.Minute)))

	results := make([][]store.ExpiredPresence, len(replicas))
	var wg sync.WaitGroup
	for i, r := range replicas {
		wg.Go(func() {
			var err error
			results[i], err = r.ExpirePresence(ctx, now)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	var acted []store.ExpiredPresence
	for _, r := range results {
		acted = append(acted, r...)
	}
	require.Len(t, acted, 1, "one replica acts on the lease")
	assert.Equal(t, "dead", acted[0].ServerID)
	assert.Equal(t, []string{"a1", "a2", "a3"}, acted[0].Agents)
	for _, uid := range []string{"a1", "a2", "a3"} {
		a, err := replicas[1].GetAgent(ctx, uid)
		require.NoError(t, err)
		assert.False(t, a.Online, uid)
	}
}
