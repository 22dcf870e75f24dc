package controlplane

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
)

// A replica that dies leaves its agents marked online; the replicas still
// running mark them offline once its lease runs out, keep their own, and a
// clean stop drops this replica's lease.
func TestPresenceExpiresADeadReplicasAgents(t *testing.T) {
	cfg := testConfig(t)
	cfg.PresenceLease = MinPresenceLease
	s, err := New(t.Context(), cfg, nil)
	require.NoError(t, err)
	started := time.Now()
	require.NoError(t, s.Start(context.WithoutCancel(t.Context())))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = s.Stop(context.Background())
		}
	})
	ctx, st := t.Context(), s.Store()

	agent := func(uid, server string) apitypes.Agent {
		return apitypes.Agent{InstanceUID: uid, Online: true, ServerID: server, FirstSeen: started, LastSeen: started}
	}
	for _, a := range []apitypes.Agent{agent("dead-1", "dead"), agent("dead-2", "dead"), agent("mine", cfg.ServerID), agent("other", "alive")} {
		require.NoError(t, st.UpsertAgent(ctx, a))
	}
	deadUntil := time.Now().Add(time.Second)
	require.NoError(t, st.RenewPresence(ctx, "dead", deadUntil))
	require.NoError(t, st.RenewPresence(ctx, "alive", time.Now().Add(time.Hour)))

	isOnline := func(uid string) bool {
		a, err := st.GetAgent(ctx, uid)
		require.NoError(t, err)
		return a.Online
	}
	require.Eventually(t, func() bool { return !isOnline("dead-1") && !isOnline("dead-2") }, 10*time.Second, 50*time.Millisecond,
		"the dead replica's agents are marked offline")
	// Within one renewal period (a third of the lease) of the lease's end.
	assert.Less(t, time.Since(deadUntil), cfg.PresenceLease/3+time.Second)

	// Past two whole leases since start: this replica renews its own.
	time.Sleep(time.Until(started.Add(2*cfg.PresenceLease + 500*time.Millisecond)))
	assert.True(t, isOnline("mine"), "this replica's own agents stay online")
	assert.True(t, isOnline("other"), "a live replica's agents stay online")

	status, body := newClient(t).get(s.APIURL()+"/metrics", "")
	require.Equal(t, 200, status)
	assert.Contains(t, body, "\nphoenix_presence_leases_expired_total 1\n")
	assert.Contains(t, body, "\nphoenix_presence_agents_offline_total 2\n")

	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Stop(stopCtx))
	stopped = true

	reopened, err := boltstore.Open(filepath.Join(cfg.DataDir, "phoenix.db"))
	require.NoError(t, err)
	defer reopened.Close()
	expired, err := reopened.ExpirePresence(ctx, time.Now().Add(24*time.Hour))
	require.NoError(t, err)
	var servers []string
	for _, e := range expired {
		servers = append(servers, fmt.Sprintf("%s%v", e.ServerID, e.Agents))
	}
	// The clean stop marked its agents offline and dropped its lease;
	// alive's lease remains.
	assert.Equal(t, "alive[other]", strings.Join(servers, " "))
	a, err := reopened.GetAgent(ctx, "mine")
	require.NoError(t, err)
	assert.False(t, a.Online)
}
