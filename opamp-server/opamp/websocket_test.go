package opamp

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The endpoint's own WebSocket loop reads what opamp-go's clients send:
// messages with the header, and those of clients from before it.
func TestWebSocketReadsMessagesWithAndWithoutHeader(t *testing.T) {
	env := newTestServer(t)
	conn := wsDial(t, env)
	msg, uid := withUID(described(str("host.name", "web-1")))
	require.NoError(t, conn.WriteMessage(websocket.BinaryMessage, marshal(t, msg)), "no header")
	answer, err := wsAnswer(t, conn)
	require.NoError(t, err)
	assert.Equal(t, uid[:], answer.GetInstanceUid())
	assert.True(t, env.stored(t, uid))

	again, other := withUID(described())
	require.NoError(t, wsSend(t, conn, marshal(t, again)))
	answer, err = wsAnswer(t, conn)
	require.NoError(t, err)
	assert.Equal(t, other[:], answer.GetInstanceUid())
}

// A text frame or an undecodable one is counted and skipped; the
// connection stays up for the next message.
func TestWebSocketSkipsWhatIsNotAMessage(t *testing.T) {
	env := newTestServer(t)
	conn := wsDial(t, env)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("hello")))
	require.NoError(t, conn.WriteMessage(websocket.BinaryMessage, []byte{0, 0xff, 0xff, 0xff}))
	msg, uid := withUID(described())
	require.NoError(t, wsSend(t, conn, marshal(t, msg)))
	answer, err := wsAnswer(t, conn)
	require.NoError(t, err)
	assert.Equal(t, uid[:], answer.GetInstanceUid())
	assert.InDelta(t, 2, testutil.ToFloat64(env.metrics.OpAMPErrors.WithLabelValues("read")), 0)
}

// A WebSocket that onConnecting refuses gets its HTTP answer, not an
// upgrade.
func TestWebSocketRefusedBeforeTheUpgrade(t *testing.T) {
	env := newTestServer(t, withAgentAuth(t, 0))
	_, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws"+strings.TrimPrefix(env.url, "http"), nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
