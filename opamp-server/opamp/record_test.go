package opamp

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// writeCounting counts the agent writes and reads the endpoint makes.
type writeCounting struct {
	readCounting
	writes atomic.Int64
}

func (w *writeCounting) UpsertAgent(ctx context.Context, a apitypes.Agent) error {
	w.writes.Add(1)
	return w.Store.UpsertAgent(ctx, a)
}

// clock is a settable Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A synced WebSocket agent's heartbeats read and write nothing until its
// stored last-seen time is refreshLastSeen old; what changes the record is
// written right behind the message; a write from elsewhere makes the next message read the
// store again, without asking for the agent's full state.
func TestHeartbeatsAreNotWrittenUntilLastSeenIsStale(t *testing.T) {
	counting := &writeCounting{}
	clk := &clock{now: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	env := newTestServer(t, func(s *Settings) {
		counting.Store = s.Store
		s.Store, s.Now = counting, clk.Now
	})
	require.NoError(t, env.s.Start(t.Context()))
	conn := wsDial(t, env)
	msg, uid := withUID(described(str("host.name", "web-1")))
	seq := uint64(0)
	send := func(m *protobufs.AgentToServer) *protobufs.ServerToAgent {
		t.Helper()
		m.InstanceUid, m.SequenceNum = uid[:], seq
		seq++
		require.NoError(t, wsSend(t, conn, marshal(t, m)))
		answer, err := wsAnswer(t, conn)
		require.NoError(t, err)
		return answer
	}
	fullStateAsked := func(a *protobufs.ServerToAgent) bool {
		return a.GetFlags()&uint64(protobufs.ServerToAgentFlags_ServerToAgentFlags_ReportFullState) != 0
	}
	send(msg)
	stored := func() apitypes.Agent {
		t.Helper()
		a, err := env.store.GetAgent(t.Context(), uid.String())
		require.NoError(t, err)
		return a
	}
	// The watcher hears of the first write, this replica's own: the record
	// stays held.
	time.Sleep(100 * time.Millisecond)

	writes, reads := counting.writes.Load(), counting.agents.Load()
	for range 5 {
		clk.add(10 * time.Second)
		assert.False(t, fullStateAsked(send(&protobufs.AgentToServer{})))
	}
	assert.Equal(t, writes, counting.writes.Load(), "heartbeats are not written")
	assert.Equal(t, reads, counting.agents.Load(), "heartbeats read no agent")

	send(&protobufs.AgentToServer{Health: &protobufs.ComponentHealth{Healthy: false, LastError: "exporter down"}})
	require.Eventually(t, func() bool { h := stored().Health; return h != nil && h.LastError == "exporter down" },
		5*time.Second, 5*time.Millisecond, "a health change is written, behind the message")
	assert.Equal(t, writes+1, counting.writes.Load(), "once")
	time.Sleep(100 * time.Millisecond) // its change event comes back
	send(&protobufs.AgentToServer{})
	assert.Equal(t, reads, counting.agents.Load(), "after its own write a replica reads nothing back")

	// A write from elsewhere: the next heartbeat reads the store, whose
	// sequence number lags, and is not taken for a gap.
	other := stored()
	other.Labels["team"] = "web"
	require.NoError(t, env.store.UpsertAgent(t.Context(), other))
	readsBefore := counting.agents.Load()
	require.Eventually(t, func() bool {
		assert.False(t, fullStateAsked(send(&protobufs.AgentToServer{})), "no gap: the sequence is remembered")
		return counting.agents.Load() > readsBefore
	}, 5*time.Second, 20*time.Millisecond, "the record is read again after a write from elsewhere")
	assert.Equal(t, "web", stored().Labels["team"], "a heartbeat does not undo it")

	lastSeen := stored().LastSeen
	clk.add(refreshLastSeen)
	writes = counting.writes.Load()
	send(&protobufs.AgentToServer{})
	require.Eventually(t, func() bool { return stored().LastSeen.After(lastSeen) }, 5*time.Second, 5*time.Millisecond,
		"a stale last-seen time is refreshed")
	assert.Equal(t, writes+1, counting.writes.Load(), "once")

	// Deleted while connected: the agent is asked for its full state and
	// is back in the inventory.
	require.NoError(t, env.store.DeleteAgent(t.Context(), uid.String()))
	require.Eventually(t, func() bool { return fullStateAsked(send(&protobufs.AgentToServer{})) },
		5*time.Second, 20*time.Millisecond)
	send(described(str("host.name", "web-1")))
	assert.Equal(t, "web-1", stored().Description.HostName)
	closeWS(t, conn)
}

// closeWS closes a test WebSocket.
func closeWS(t *testing.T, conn *websocket.Conn) {
	t.Helper()
	_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	_ = conn.Close()
}
