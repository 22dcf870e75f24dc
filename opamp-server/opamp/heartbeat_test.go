package opamp

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	reportsHeartbeat  = uint64(protobufs.AgentCapabilities_AgentCapabilities_ReportsHeartbeat)
	acceptsConnection = uint64(protobufs.AgentCapabilities_AgentCapabilities_AcceptsOpAMPConnectionSettings)
)

// poll sends one plain-HTTP message for uid and returns the heartbeat the
// answer offers (0: none).
func poll(t *testing.T, env *testServer, uid uuid.UUID, seq, caps uint64, full bool) uint64 {
	t.Helper()
	msg := &protobufs.AgentToServer{InstanceUid: uid[:], SequenceNum: seq, Capabilities: caps}
	if full {
		msg.AgentDescription = described().AgentDescription
	}
	code, answer := env.post(t, bytes.NewReader(marshal(t, msg)), "")
	require.Equal(t, http.StatusOK, code)
	return answer.GetConnectionSettings().GetOpamp().GetHeartbeatIntervalSeconds()
}

func TestPollingAgentsAreOfferedTheHeartbeatOnce(t *testing.T) {
	env := newTestServer(t, func(s *Settings) { s.HTTPHeartbeat = 5 * time.Second })

	uid := uuid.New()
	assert.EqualValues(t, 5, poll(t, env, uid, 0, reportsHeartbeat, true), "offered with the first answer")
	assert.Zero(t, poll(t, env, uid, 1, reportsHeartbeat, false), "not again on the next poll")
	// A supervisor that restarts forgets the interval; it reports its full
	// state, and the offer comes again.
	assert.EqualValues(t, 5, poll(t, env, uid, 0, reportsHeartbeat, true))

	// An agent that accepts connection settings would take the offer's
	// empty headers and TLS as its own: it gets none.
	assert.Zero(t, poll(t, env, uuid.New(), 0, reportsHeartbeat|acceptsConnection, true))
	// Nor one that keeps no heartbeat.
	assert.Zero(t, poll(t, env, uuid.New(), 0, 0, true))

	// WebSocket agents hear of a configuration at once: no offer.
	conn := wsDial(t, env)
	msg, _ := withUID(described())
	msg.Capabilities = reportsHeartbeat
	require.NoError(t, wsSend(t, conn, marshal(t, msg)))
	answer, err := wsAnswer(t, conn)
	require.NoError(t, err)
	assert.Nil(t, answer.GetConnectionSettings().GetOpamp())
}

func TestNoHeartbeatOfferWhenTurnedOff(t *testing.T) {
	env := newTestServer(t)
	assert.Zero(t, poll(t, env, uuid.New(), 0, reportsHeartbeat, true))
}
