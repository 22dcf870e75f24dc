package opamp

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// readCounting counts the agent and assignment reads the endpoint makes.
type readCounting struct {
	store.Store
	agents, assignments, batches atomic.Int64
}

func (r *readCounting) GetAgent(ctx context.Context, uid string) (apitypes.Agent, error) {
	r.agents.Add(1)
	return r.Store.GetAgent(ctx, uid)
}

func (r *readCounting) GetAgentBrief(ctx context.Context, uid string) (apitypes.Agent, error) {
	r.agents.Add(1)
	return r.Store.GetAgentBrief(ctx, uid)
}

func (r *readCounting) GetAssignment(ctx context.Context, uid string) (apitypes.Assignment, error) {
	r.assignments.Add(1)
	return r.Store.GetAssignment(ctx, uid)
}

func (r *readCounting) GetAssignments(ctx context.Context, uids []string) (map[string]apitypes.Assignment, error) {
	r.batches.Add(1)
	return r.Store.GetAssignments(ctx, uids)
}

// configStatus is the agent's report on a remote configuration.
func configStatus(t *testing.T, seq uint64, hash string, status protobufs.RemoteConfigStatuses) *protobufs.AgentToServer {
	raw, err := hex.DecodeString(hash)
	require.NoError(t, err)
	return &protobufs.AgentToServer{SequenceNum: seq, RemoteConfigStatus: &protobufs.RemoteConfigStatus{
		LastRemoteConfigHash: raw, Status: status}}
}

// A push decides from what the agent last reported here, and the status
// reports that follow it do not read the assignment back; an assignment
// changed afterwards still reaches the agent.
func TestPushesAndReportsReadOnlyWhatChanged(t *testing.T) {
	counting := &readCounting{}
	env := newTestServer(t, func(s *Settings) { counting.Store = s.Store; s.Store = counting })
	require.NoError(t, env.s.Start(t.Context()))
	conn, uid := connectAgent(t, env)
	assign := func(body string) string { return assignTo(t, env, uid.String(), body) }
	received := func(conn *websocket.Conn) string { return receivedHash(t, conn) }

	agentsBefore := counting.agents.Load()
	first := assign("receivers: {nop: {}}\n")
	require.Equal(t, first, received(conn))
	assert.Equal(t, agentsBefore, counting.agents.Load(), "the push reads no agent record")

	before := counting.assignments.Load()
	for seq, status := range []protobufs.RemoteConfigStatuses{
		protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLYING,
		protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED,
		protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED, // a heartbeat
	} {
		report := configStatus(t, uint64(seq+1), first, status)
		report.InstanceUid = uid[:]
		require.NoError(t, wsSend(t, conn, marshal(t, report)))
		answer, err := wsAnswer(t, conn)
		require.NoError(t, err)
		assert.Nil(t, answer.GetRemoteConfig(), "nothing to send while the agent reports on its assignment")
	}
	assert.Equal(t, before, counting.assignments.Load(), "status reports read no assignment")
	require.NoError(t, env.s.writer.drain(t.Context()))
	a, err := env.store.GetAgent(t.Context(), uid.String())
	require.NoError(t, err)
	assert.Equal(t, apitypes.ConfigStatusApplied, a.RemoteConfig.Status, "the reports are stored")

	second := assign("receivers: {nop/2: {}}\n")
	assert.Equal(t, second, received(conn), "a later assignment is pushed")
}

// An agent queued again before its push is pushed once; agents are pushed
// in the order they were first queued, a batch at a time; an agent queued
// again while its push runs waits for it to end.
func TestPusherQueuesEachAgentOnce(t *testing.T) {
	p := &pusher{queued: map[string]bool{}, inflight: map[string]bool{}, wake: make(chan struct{}, 1)}
	for _, uid := range []string{"a", "b", "a", "a", "c", "b", "d"} {
		p.push(uid)
	}
	first := p.next(3)
	assert.Equal(t, []string{"a", "b", "c"}, first)
	p.push("a") // changed again while its push runs
	assert.Equal(t, []string{"d"}, p.next(3), "a is being pushed: it waits")
	assert.Empty(t, p.next(3))
	p.done(first)
	assert.Equal(t, []string{"a"}, p.next(3), "pushed again once its push ended")
	assert.Empty(t, p.next(3))
}

// Agents pushed together have their assignments read at once, and only
// those connected here are read.
func TestPushManyReadsAssignmentsAtOnce(t *testing.T) {
	counting := &readCounting{}
	env := newTestServer(t, func(s *Settings) { counting.Store = s.Store; s.Store = counting })
	var conns []*websocket.Conn
	var uids []string
	for i := range 3 {
		conn := wsDial(t, env)
		msg, uid := withUID(described(str("host.name", fmt.Sprintf("web-%d", i))))
		require.NoError(t, wsSend(t, conn, marshal(t, msg)))
		_, err := wsAnswer(t, conn)
		require.NoError(t, err)
		conns, uids = append(conns, conn), append(uids, uid.String())
	}
	var asgs []apitypes.Assignment
	for _, uid := range uids[:2] { // the third has none
		asgs = append(asgs, apitypes.Assignment{InstanceUID: uid, Config: "receivers: {nop: {}}\n", Reason: "test"})
	}
	stored, err := env.store.SetAssignments(t.Context(), asgs)
	require.NoError(t, err)

	singles := counting.assignments.Load()
	require.NoError(t, env.s.pushMany(t.Context(), append(slices.Clone(uids), "not-connected-here")))
	assert.Equal(t, singles, counting.assignments.Load(), "no assignment read one by one")
	assert.Equal(t, int64(1), counting.batches.Load())
	for i, conn := range conns[:2] {
		answer, err := wsAnswer(t, conn)
		require.NoError(t, err)
		assert.Equal(t, stored[i].ConfigHash, hex.EncodeToString(answer.GetRemoteConfig().GetConfigHash()))
	}
}

// A configuration sent again after another one went out in between is not
// held back (an experiment stopped soon after its start restores what the
// start replaced); the same one twice in a row is.
func TestPushResendsAfterAnotherConfiguration(t *testing.T) {
	env := newTestServer(t)
	require.NoError(t, env.s.Start(t.Context()))
	conn, uid := connectAgent(t, env)
	assign := func(body string) string { return assignTo(t, env, uid.String(), body) }
	received := func() string { return receivedHash(t, conn) }
	first := assign("receivers: {nop: {}}\n")
	require.Equal(t, first, received())
	second := assign("receivers: {nop/2: {}}\n")
	require.Equal(t, second, received())
	assert.Equal(t, first, assign("receivers: {nop: {}}\n"))
	assert.Equal(t, first, received(), "the first again, within ResendAfter of its first push")

	assign("receivers: {nop: {}}\n") // the same, a second time in a row
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
	_, _, err := conn.ReadMessage()
	assert.Error(t, err, "not sent twice in a row")
}

// connectAgent connects a described agent by WebSocket and reads the
// answer to its first message.
func connectAgent(t *testing.T, env *testServer) (*websocket.Conn, uuid.UUID) {
	t.Helper()
	conn := wsDial(t, env)
	msg, uid := withUID(described(str("host.name", "web-1")))
	require.NoError(t, wsSend(t, conn, marshal(t, msg)))
	_, err := wsAnswer(t, conn)
	require.NoError(t, err)
	return conn, uid
}

// assignTo stores a configuration for uid and returns its hash.
func assignTo(t *testing.T, env *testServer, uid, body string) string {
	t.Helper()
	asg, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: uid, Config: body, Reason: "test"})
	require.NoError(t, err)
	return asg.ConfigHash
}

// receivedHash reads the next message and returns the hash of the
// configuration it pushes.
func receivedHash(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	answer, err := wsAnswer(t, conn)
	require.NoError(t, err)
	require.NotNil(t, answer.GetRemoteConfig(), "a pushed configuration")
	return hex.EncodeToString(answer.GetRemoteConfig().GetConfigHash())
}
