package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var presenceTests = []testCase{
	{"ExpiryMarksOnlyTheExpiredServersAgentsOffline", testPresenceExpiry},
	{"RenewalAndDropKeepAgentsOnline", testPresenceRenewAndDrop},
	{"AnAgentThatMovedStaysOnline", testPresenceAgentMoved},
	{"Invalid", testPresenceInvalid},
}

func agentOn(uid, server string, online bool) apitypes.Agent {
	a := minimalAgent(uid, online, nil)
	a.ServerID = server
	return a
}

// online returns each agent's Online, by UID.
func online(t *testing.T, s store.Store, uids ...string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, uid := range uids {
		a, err := s.GetAgent(t.Context(), uid)
		require.NoError(t, err)
		out[uid] = a.Online
	}
	return out
}

func testPresenceExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	upsertAgents(t, s, agentOn("a1", "r1", true), agentOn("a2", "r1", true), agentOn("a3", "r1", false),
		agentOn("b1", "r2", true), agentOn("c1", "r3", true))
	ch, err := s.Watch(ctx)
	require.NoError(t, err)
	require.NoError(t, s.RenewPresence(ctx, "r2", base.Add(time.Minute)))
	require.NoError(t, s.RenewPresence(ctx, "r1", base.Add(10*time.Second)))

	expired, err := s.ExpirePresence(ctx, base.Add(5*time.Second))
	require.NoError(t, err)
	assert.Empty(t, expired, "no lease has ended")
	expired, err = s.ExpirePresence(ctx, base.Add(10*time.Second))
	require.NoError(t, err)
	assert.Empty(t, expired, "a lease ends after its last instant")

	expired, err = s.ExpirePresence(ctx, base.Add(30*time.Second))
	require.NoError(t, err)
	assert.Equal(t, []store.ExpiredPresence{{ServerID: "r1", Until: normTime(base.Add(10 * time.Second)), Agents: []string{"a1", "a2"}}}, expired)
	waitChange(t, ch, store.Change{Kind: store.ChangeAgent, ID: "a1"})
	waitChange(t, ch, store.Change{Kind: store.ChangeAgent, ID: "a2"})
	// r3 never held a lease (a replica of an older version): left alone.
	assert.Equal(t, map[string]bool{"a1": false, "a2": false, "a3": false, "b1": true, "c1": true},
		online(t, s, "a1", "a2", "a3", "b1", "c1"))

	expired, err = s.ExpirePresence(ctx, base.Add(30*time.Second))
	require.NoError(t, err)
	assert.Empty(t, expired, "an expired lease is removed")

	// Both remaining leases end; a lease without online agents is removed too.
	require.NoError(t, s.RenewPresence(ctx, "r1", base.Add(20*time.Second)))
	expired, err = s.ExpirePresence(ctx, base.Add(2*time.Minute))
	require.NoError(t, err)
	require.Len(t, expired, 2)
	assert.Equal(t, store.ExpiredPresence{ServerID: "r1", Until: normTime(base.Add(20 * time.Second))}, expired[0])
	assert.Equal(t, store.ExpiredPresence{ServerID: "r2", Until: normTime(base.Add(time.Minute)), Agents: []string{"b1"}}, expired[1])
	waitChange(t, ch, store.Change{Kind: store.ChangeAgent, ID: "b1"})
	assert.Equal(t, map[string]bool{"b1": false, "c1": true}, online(t, s, "b1", "c1"))
}

func testPresenceRenewAndDrop(t *testing.T, s store.Store) {
	ctx := t.Context()
	upsertAgents(t, s, agentOn("a1", "r1", true))
	require.NoError(t, s.RenewPresence(ctx, "r1", base.Add(10*time.Second)))
	require.NoError(t, s.RenewPresence(ctx, "r1", base.Add(time.Minute)))
	expired, err := s.ExpirePresence(ctx, base.Add(30*time.Second))
	require.NoError(t, err)
	assert.Empty(t, expired, "the renewal moved the lease's end")
	assert.True(t, online(t, s, "a1")["a1"])

	// A clean shutdown marks its agents offline itself, then drops the lease.
	require.NoError(t, s.DropPresence(ctx, "r1"))
	require.NoError(t, s.DropPresence(ctx, "r1"), "dropping a missing lease is not an error")
	require.NoError(t, s.DropPresence(ctx, "never-seen"))
	expired, err = s.ExpirePresence(ctx, base.Add(time.Hour))
	require.NoError(t, err)
	assert.Empty(t, expired)
	assert.True(t, online(t, s, "a1")["a1"], "a dropped lease expires nothing")

	// A lease renewed after it was dropped holds again.
	require.NoError(t, s.RenewPresence(ctx, "r1", base.Add(time.Minute)))
	expired, err = s.ExpirePresence(ctx, base.Add(time.Hour))
	require.NoError(t, err)
	require.Len(t, expired, 1)
	assert.Equal(t, []string{"a1"}, expired[0].Agents)
}

func testPresenceAgentMoved(t *testing.T, s store.Store) {
	ctx := t.Context()
	upsertAgents(t, s, agentOn("a1", "r1", true), agentOn("a2", "r1", true))
	require.NoError(t, s.RenewPresence(ctx, "r1", base))
	require.NoError(t, s.RenewPresence(ctx, "r2", base.Add(time.Hour)))
	// r1 dies; a1 reconnects to r2 before r1's lease is expired.
	upsertAgents(t, s, agentOn("a1", "r2", true))
	expired, err := s.ExpirePresence(ctx, base.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, expired, 1)
	assert.Equal(t, []string{"a2"}, expired[0].Agents)
	assert.Equal(t, map[string]bool{"a1": true, "a2": false}, online(t, s, "a1", "a2"))
}

func testPresenceInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	assert.ErrorIs(t, s.RenewPresence(ctx, "", base), store.ErrInvalid)
	assert.ErrorIs(t, s.RenewPresence(ctx, "r1", time.Time{}), store.ErrInvalid)
	assert.ErrorIs(t, s.DropPresence(ctx, ""), store.ErrInvalid)
	_, err := s.ExpirePresence(cancelled(t), base)
	assert.Error(t, err)
}
