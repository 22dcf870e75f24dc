package opamp

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// gatedWrites holds agent writes at a gate while it is closed, and can
// fail them.
type gatedWrites struct {
	store.Store
	mu     sync.Mutex
	gate   chan struct{} // nil: open
	fail   atomic.Bool
	writes atomic.Int64
	held   atomic.Int64 // writes waiting at the gate
}

func (g *gatedWrites) close() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedWrites) open() {
	g.mu.Lock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
	g.mu.Unlock()
}

func (g *gatedWrites) UpsertAgent(ctx context.Context, a apitypes.Agent) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		g.held.Add(1)
		<-gate
		g.held.Add(-1)
	}
	g.writes.Add(1)
	if g.fail.Load() {
		return errors.New("disk full")
	}
	return g.Store.UpsertAgent(ctx, a)
}

// session is one test agent on a WebSocket, numbering its messages.
type session struct {
	t    *testing.T
	conn *websocket.Conn
	uid  uuid.UUID
	seq  uint64
}

func startSession(t *testing.T, env *testServer) *session {
	t.Helper()
	conn, uid := connectAgent(t, env)
	return &session{t: t, conn: conn, uid: uid, seq: 1}
}

func (s *session) send(m *protobufs.AgentToServer) *protobufs.ServerToAgent {
	s.t.Helper()
	m.InstanceUid, m.SequenceNum = s.uid[:], s.seq
	s.seq++
	require.NoError(s.t, wsSend(s.t, s.conn, marshal(s.t, m)))
	answer, err := wsAnswer(s.t, s.conn)
	require.NoError(s.t, err)
	return answer
}

// gatedSession is a started test server whose agent writes pass a gate,
// and one agent connected to it.
func gatedSession(t *testing.T) (*testServer, *gatedWrites, *session) {
	t.Helper()
	gated := &gatedWrites{}
	env := newTestServer(t, func(s *Settings) { gated.Store = s.Store; s.Store = gated })
	require.NoError(t, env.s.Start(t.Context()))
	return env, gated, startSession(t, env)
}

func effective(text string) *protobufs.AgentToServer {
	return &protobufs.AgentToServer{EffectiveConfig: &protobufs.EffectiveConfig{ConfigMap: &protobufs.AgentConfigMap{
		ConfigMap: map[string]*protobufs.AgentConfigFile{"": {Body: []byte(text)}}}}}
}

// An agent's messages are answered while the store is busy, and those that
// arrive during one write share the next: the store receives the latest
// record once, with the effective configuration's text an earlier message
// brought.
func TestRecordsAreWrittenBehindAndCoalesced(t *testing.T) {
	env, gated, agent := gatedSession(t)
	hash := assignTo(t, env, agent.uid.String(), "receivers: {nop: {}}\n")
	require.Equal(t, hash, receivedHash(t, agent.conn))

	gated.close()
	agent.send(configStatus(t, 0, hash, protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLYING))
	require.Eventually(t, func() bool { return gated.held.Load() == 1 }, 5*time.Second, time.Millisecond, "the first write waits at the gate")
	before := gated.writes.Load()
	// Answered though the store has not written the first one.
	agent.send(effective("receivers: {nop: {}}\n"))
	agent.send(&protobufs.AgentToServer{Health: &protobufs.ComponentHealth{Healthy: true, Status: "StatusOK"}})
	agent.send(configStatus(t, 0, hash, protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED))
	gated.open()
	require.NoError(t, env.s.writer.drain(t.Context()))
	assert.Equal(t, before+2, gated.writes.Load(), "the write under way, then one for the three messages behind it")

	a, err := env.store.GetAgent(t.Context(), agent.uid.String())
	require.NoError(t, err)
	assert.Equal(t, apitypes.ConfigStatusApplied, a.RemoteConfig.Status)
	assert.True(t, a.Health.Healthy)
	assert.Equal(t, "receivers: {nop: {}}\n", a.EffectiveConfig, "the text arrives with the coalesced record")
	assert.Equal(t, a.RemoteConfig.Hash, hash)
}

// A closed connection's last news is written before the agent is marked
// offline, so the offline mark is what stays.
func TestCloseFlushesBeforeOffline(t *testing.T) {
	env, gated, agent := gatedSession(t)
	hash := assignTo(t, env, agent.uid.String(), "receivers: {nop: {}}\n")
	require.Equal(t, hash, receivedHash(t, agent.conn))

	gated.close()
	agent.send(configStatus(t, 0, hash, protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED))
	closeWS(t, agent.conn)
	time.Sleep(50 * time.Millisecond) // the close is handled, waiting for the write
	gated.open()
	require.Eventually(t, func() bool {
		a, err := env.store.GetAgent(t.Context(), agent.uid.String())
		return err == nil && !a.Online
	}, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, env.s.writer.drain(t.Context()))
	a, err := env.store.GetAgent(t.Context(), agent.uid.String())
	require.NoError(t, err)
	assert.False(t, a.Online, "nothing written after the offline mark")
	assert.Equal(t, apitypes.ConfigStatusApplied, a.RemoteConfig.Status, "and what the agent said before is kept")
}

// A record the store failed to take is not lost: the agent's next message
// is asked for its full state, which brings the news again.
func TestFailedWriteAsksForFullState(t *testing.T) {
	env, gated, agent := gatedSession(t)

	gated.fail.Store(true)
	agent.send(&protobufs.AgentToServer{Health: &protobufs.ComponentHealth{Healthy: false, LastError: "exporter down"}})
	require.NoError(t, env.s.writer.drain(t.Context()))
	gated.fail.Store(false)
	answer := agent.send(&protobufs.AgentToServer{})
	assert.NotZero(t, answer.GetFlags()&uint64(protobufs.ServerToAgentFlags_ServerToAgentFlags_ReportFullState),
		"the agent is asked for everything again")
	assert.Equal(t, 1.0, testutil.ToFloat64(env.metrics.OpAMPErrors.WithLabelValues("store")), "the failure is counted")
}

// Stop writes every queued record before it marks this replica's agents
// offline and returns, so the store may be closed after it.
func TestStopWritesQueuedRecords(t *testing.T) {
	env, gated, agent := gatedSession(t)

	gated.close()
	agent.send(&protobufs.AgentToServer{Health: &protobufs.ComponentHealth{Healthy: false, LastError: "exporter down"}})
	stopped := make(chan error, 1)
	go func() { stopped <- env.s.Stop(context.Background()) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned with a record still queued")
	case <-time.After(100 * time.Millisecond):
	}
	gated.open()
	require.NoError(t, <-stopped)
	a, err := env.store.GetAgent(t.Context(), agent.uid.String())
	require.NoError(t, err)
	assert.Equal(t, "exporter down", a.Health.LastError)
	assert.False(t, a.Online)
}
