package opamp

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// withAgentAuth turns on authentication with the store's agent credentials,
// re-checked every recheck.
func withAgentAuth(t *testing.T, recheck time.Duration) func(*Settings) {
	return func(s *Settings) {
		a, err := auth.New(nil)
		require.NoError(t, err)
		s.Auth = a.WithAgentCredentials(store.CredentialLookup(s.Store))
		s.CredentialRecheck = recheck
	}
}

// enrollInStore issues a credential the way the API does.
func enrollInStore(t *testing.T, st store.Store) (uuid.UUID, string) {
	t.Helper()
	uid := uuid.New()
	token, err := auth.NewAgentToken()
	require.NoError(t, err)
	require.NoError(t, st.CreateAgentCredential(t.Context(), store.AgentCredential{InstanceUID: uid.String(),
		TokenSHA256: auth.Digest(token), EnrolledBy: "test", EnrolledAt: time.Now()}))
	return uid, token
}

func wsDialWith(t *testing.T, env *testServer, token string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws"+strings.TrimPrefix(env.url, "http"),
		http.Header{"Authorization": {"Bearer " + token}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func wsAnswer(t *testing.T, conn *websocket.Conn) (*protobufs.ServerToAgent, error) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, raw, err := conn.ReadMessage()
	if err != nil {
		return nil, err
	}
	var out protobufs.ServerToAgent
	require.NoError(t, proto.Unmarshal(raw[1:], &out))
	return &out, nil
}

// A revocation on another replica reaches this one's WebSocket at the next
// message after the re-check interval.
func TestWebSocketCredentialIsCheckedAgain(t *testing.T) {
	env := newTestServer(t, withAgentAuth(t, time.Nanosecond))
	uid, token := enrollInStore(t, env.store)
	conn := wsDialWith(t, env, token)

	msg := described()
	msg.InstanceUid = uid[:]
	require.NoError(t, wsSend(t, conn, marshal(t, msg)))
	answer, err := wsAnswer(t, conn)
	require.NoError(t, err)
	require.Nil(t, answer.GetErrorResponse())
	require.True(t, env.stored(t, uid))

	require.NoError(t, env.store.DeleteAgentCredential(t.Context(), uid.String()))
	heartbeat := &protobufs.AgentToServer{InstanceUid: uid[:], SequenceNum: 2}
	require.NoError(t, wsSend(t, conn, marshal(t, heartbeat)))
	answer, err = wsAnswer(t, conn)
	require.NoError(t, err)
	require.NotNil(t, answer.GetErrorResponse())
	assert.Contains(t, answer.GetErrorResponse().GetErrorMessage(), "revoked")
	_, err = wsAnswer(t, conn)
	assert.Error(t, err, "the connection is closed")
	assert.InDelta(t, 1, testutil.ToFloat64(env.metrics.AgentAuthRefused.WithLabelValues(servermetrics.SourceOpAMP, servermetrics.AuthRevoked)), 0)
}

func TestWebSocketSpeaksOnlyForItsAgent(t *testing.T) {
	env := newTestServer(t, withAgentAuth(t, time.Hour))
	_, token := enrollInStore(t, env.store)
	conn := wsDialWith(t, env, token)
	msg, other := withUID(described())
	require.NoError(t, wsSend(t, conn, marshal(t, msg)))
	answer, err := wsAnswer(t, conn)
	require.NoError(t, err)
	require.NotNil(t, answer.GetErrorResponse())
	assert.Contains(t, answer.GetErrorResponse().GetErrorMessage(), "used for agent "+other.String())
	_, err = wsAnswer(t, conn)
	assert.Error(t, err, "the connection is closed")
	assert.False(t, env.stored(t, other), "nothing is stored in the other agent's name")
	assert.InDelta(t, 1, testutil.ToFloat64(env.metrics.AgentAuthRefused.WithLabelValues(servermetrics.SourceOpAMP, servermetrics.AuthWrongAgent)), 0)
}

func TestDisconnectClosesTheAgentsConnection(t *testing.T) {
	env := newTestServer(t, withAgentAuth(t, time.Hour))
	uid, token := enrollInStore(t, env.store)
	conn := wsDialWith(t, env, token)
	msg := described()
	msg.InstanceUid = uid[:]
	require.NoError(t, wsSend(t, conn, marshal(t, msg)))
	_, err := wsAnswer(t, conn)
	require.NoError(t, err)

	env.s.Disconnect(uid.String())
	_, err = wsAnswer(t, conn)
	assert.Error(t, err)
	env.s.Disconnect("no-such-agent") // nothing to do, no panic
}
