package opamp

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
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
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
)

func configMessage(files map[string]string) *protobufs.AgentToServer {
	cm := map[string]*protobufs.AgentConfigFile{}
	for name, body := range files {
		cm[name] = &protobufs.AgentConfigFile{Body: []byte(body)}
	}
	return &protobufs.AgentToServer{EffectiveConfig: &protobufs.EffectiveConfig{ConfigMap: &protobufs.AgentConfigMap{ConfigMap: cm}}}
}

func described(nonIdent ...*protobufs.KeyValue) *protobufs.AgentToServer {
	return &protobufs.AgentToServer{AgentDescription: &protobufs.AgentDescription{
		IdentifyingAttributes:    []*protobufs.KeyValue{str("service.name", "phoenix-collector")},
		NonIdentifyingAttributes: nonIdent,
	}}
}

func attributes(n int) []*protobufs.KeyValue {
	kvs := make([]*protobufs.KeyValue, n)
	for i := range kvs {
		kvs[i] = str(fmt.Sprintf("k%d", i), "v")
	}
	return kvs
}

func TestLimitMessageRefusesWhatIsOverALimit(t *testing.T) {
	manyFiles := map[string]string{}
	for i := range MaxEffectiveConfigFiles + 1 {
		manyFiles[fmt.Sprint(i)] = "a: b\n"
	}
	tests := []struct {
		name   string
		msg    *protobufs.AgentToServer
		reason string
	}{
		{"effective config too large", configMessage(map[string]string{"": strings.Repeat("a", MaxEffectiveConfigBytes+1)}),
			servermetrics.ReasonConfigTooLarge},
		{"files add up", configMessage(map[string]string{"a": strings.Repeat("a", MaxEffectiveConfigBytes/2),
			"b": strings.Repeat("b", MaxEffectiveConfigBytes/2)}), servermetrics.ReasonConfigTooLarge},
		{"too many config files", configMessage(manyFiles), servermetrics.ReasonConfigTooLarge},
		{"config not text", configMessage(map[string]string{"": "a: \x00"}), servermetrics.ReasonInvalidText},
		{"config not UTF-8", configMessage(map[string]string{"": "a: \xfe"}), servermetrics.ReasonInvalidText},
		{"too many attributes", described(attributes(MaxAttributes + 1)...), servermetrics.ReasonTooManyAttributes},
		{"100k attributes", described(attributes(100_000)...), servermetrics.ReasonTooManyAttributes},
		{"too many identifying attributes", &protobufs.AgentToServer{AgentDescription: &protobufs.AgentDescription{
			IdentifyingAttributes: attributes(MaxAttributes + 1)}}, servermetrics.ReasonTooManyAttributes},
		{"long key", described(str(strings.Repeat("k", MaxAttributeKeyBytes+1), "v")), servermetrics.ReasonAttributeTooLong},
		{"long value", described(str("k", strings.Repeat("v", MaxAttributeValueBytes+1))), servermetrics.ReasonAttributeTooLong},
		{"NUL in a label", described(str("k", "v\x00")), servermetrics.ReasonInvalidText},
		{"long hash", &protobufs.AgentToServer{RemoteConfigStatus: &protobufs.RemoteConfigStatus{
			LastRemoteConfigHash: make([]byte, MaxConfigHashBytes+1)}}, servermetrics.ReasonHashTooLong},
		{"NUL in an error message", status("ab", protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED, "x\x00"),
			servermetrics.ReasonInvalidText},
		{"NUL in health", &protobufs.AgentToServer{Health: &protobufs.ComponentHealth{LastError: "\x00"}}, servermetrics.ReasonInvalidText},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, cut := limitMessage(tt.msg)
			require.NotNil(t, v)
			assert.Equal(t, tt.reason, v.reason)
			assert.NotEmpty(t, v.detail)
			assert.Less(t, len(v.detail), 256, "the detail quotes no agent input in full")
			assert.Empty(t, cut)
		})
	}
}

func TestLimitMessageAcceptsWhatIsWithinLimits(t *testing.T) {
	msg := described(attributes(MaxAttributes)...)
	msg.AgentDescription.IdentifyingAttributes = attributes(MaxAttributes)
	msg.AgentDescription.NonIdentifyingAttributes[0] = str(strings.Repeat("k", MaxAttributeKeyBytes), strings.Repeat("v", MaxAttributeValueBytes))
	msg.EffectiveConfig = configMessage(map[string]string{"": strings.Repeat("a", MaxEffectiveConfigBytes)}).EffectiveConfig
	msg.RemoteConfigStatus = &protobufs.RemoteConfigStatus{LastRemoteConfigHash: make([]byte, MaxConfigHashBytes),
		ErrorMessage: strings.Repeat("e", MaxTextBytes)}
	msg.Health = &protobufs.ComponentHealth{Status: "StatusOK", LastError: strings.Repeat("e", MaxTextBytes)}
	v, cut := limitMessage(msg)
	assert.Nil(t, v)
	assert.Empty(t, cut)
}

func TestLimitMessageCutsDiagnosticTexts(t *testing.T) {
	long := "Config apply timeout exceeded: " + strings.Repeat("é", MaxTextBytes)
	msg := status("ab", protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED, long)
	msg.Health = &protobufs.ComponentHealth{Status: long, LastError: long}
	v, cut := limitMessage(msg)
	require.Nil(t, v)
	assert.Equal(t, []string{"remote_config_status.error_message", "health.status", "health.last_error"}, cut)
	for _, s := range []string{msg.GetRemoteConfigStatus().GetErrorMessage(), msg.GetHealth().GetStatus(), msg.GetHealth().GetLastError()} {
		assert.LessOrEqual(t, len(s), MaxTextBytes)
		assert.True(t, strings.HasSuffix(s, truncatedMarker))
		assert.True(t, storable(s), "cut at a rune boundary")
	}
	assert.True(t, isApplyTimeout(msg.GetRemoteConfigStatus().GetErrorMessage()), "what the retry logic reads survives")
}

// testServer is the OpAMP endpoint over a real embedded store, served on
// loopback.
type testServer struct {
	s       *Server
	store   store.Store
	metrics *servermetrics.Metrics
	handler http.Handler
	url     string // http://…/v1/opamp
	logs    *lockedBuffer
}

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newTestServer(t *testing.T, opts ...func(*Settings)) *testServer {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	m := servermetrics.New()
	logs := &lockedBuffer{}
	set := Settings{Store: st, Metrics: m, ServerID: "test", Logger: slog.New(slog.NewTextHandler(logs, nil))}
	for _, o := range opts {
		o(&set)
	}
	s, err := New(set)
	require.NoError(t, err)
	handler, connContext, err := s.Handler()
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(handler)
	srv.Config.ConnContext = connContext
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
		srv.Close()
	})
	return &testServer{s: s, store: st, metrics: m, handler: handler, url: srv.URL + "/v1/opamp", logs: logs}
}

func (e *testServer) rejected(reason string) float64 {
	return testutil.ToFloat64(e.metrics.AgentInputRejected.WithLabelValues(servermetrics.SourceOpAMP, reason))
}

func (e *testServer) stored(t *testing.T, uid uuid.UUID) bool {
	t.Helper()
	_, err := e.store.GetAgent(t.Context(), uid.String())
	if err != nil {
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	return err == nil
}

func withUID(msg *protobufs.AgentToServer) (*protobufs.AgentToServer, uuid.UUID) {
	uid := uuid.New()
	msg.InstanceUid = uid[:]
	return msg, uid
}

// post sends body as a plain-HTTP poll and returns the status and, on 200,
// the server's answer.
func (e *testServer) post(t *testing.T, body io.Reader, encoding string) (int, *protobufs.ServerToAgent) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.url, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var out protobufs.ServerToAgent
	require.NoError(t, proto.Unmarshal(raw, &out))
	return resp.StatusCode, &out
}

func marshal(t *testing.T, msg *protobufs.AgentToServer) []byte {
	t.Helper()
	raw, err := proto.Marshal(msg)
	require.NoError(t, err)
	return raw
}

func gzipped(t *testing.T, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestHTTPMessagesWithinLimitsAreStored(t *testing.T) {
	env := newTestServer(t)
	for _, encoding := range []string{"", "gzip", "GZIP", "identity"} {
		msg, uid := withUID(described(str("host.name", "web-1")))
		body := marshal(t, msg)
		if strings.EqualFold(encoding, "gzip") {
			body = gzipped(t, body)
		}
		code, resp := env.post(t, bytes.NewReader(body), encoding)
		require.Equal(t, http.StatusOK, code, encoding)
		assert.Nil(t, resp.GetErrorResponse(), encoding)
		assert.True(t, env.stored(t, uid), encoding)
	}
}

func TestHTTPMessagesOverALimitAreRefusedAndNothingStored(t *testing.T) {
	env := newTestServer(t)
	hugeConfig, hugeUID := withUID(configMessage(map[string]string{"": strings.Repeat("receivers: {}\n", MaxMessageBytes/14+1)}))
	bigConfig, bigUID := withUID(configMessage(map[string]string{"": strings.Repeat("a", 2<<20)}))
	attrs, attrsUID := withUID(described(attributes(100_000)...))
	tests := []struct {
		name     string
		body     []byte
		encoding string
		uid      uuid.UUID
		status   int    // at the transport, or 200 and an OpAMP error
		reason   string // counted
	}{
		{"inflates past the limit", gzipped(t, marshal(t, hugeConfig)), "gzip", hugeUID, http.StatusRequestEntityTooLarge,
			servermetrics.ReasonBodyTooLarge},
		{"too large as sent", marshal(t, hugeConfig), "", hugeUID, http.StatusRequestEntityTooLarge, servermetrics.ReasonBodyTooLarge},
		{"effective config over its limit", marshal(t, bigConfig), "", bigUID, http.StatusOK, servermetrics.ReasonConfigTooLarge},
		{"100k description attributes", marshal(t, attrs), "", attrsUID, http.StatusOK, servermetrics.ReasonTooManyAttributes},
		{"unknown encoding", marshal(t, bigConfig), "br", bigUID, http.StatusUnsupportedMediaType, servermetrics.ReasonBadEncoding},
		{"corrupt gzip", []byte("not gzip at all"), "gzip", uuid.UUID{}, http.StatusBadRequest, servermetrics.ReasonBadEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := env.rejected(tt.reason)
			code, resp := env.post(t, bytes.NewReader(tt.body), tt.encoding)
			require.Equal(t, tt.status, code)
			if code == http.StatusOK {
				require.NotNil(t, resp.GetErrorResponse())
				assert.Equal(t, protobufs.ServerErrorResponseType_ServerErrorResponseType_BadRequest, resp.GetErrorResponse().GetType())
				assert.Contains(t, resp.GetErrorResponse().GetErrorMessage(), "limit")
			}
			assert.InDelta(t, before+1, env.rejected(tt.reason), 0)
			assert.False(t, env.stored(t, tt.uid), "nothing stored")
		})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// gzipBomb streams a gzip stream of size zero bytes, compressed as it is
// read: nothing is ever held whole.
func gzipBomb(t *testing.T, size int64) *countingReader {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestCompression)
		zeros := make([]byte, 1<<20)
		for left := size; left > 0; left -= int64(len(zeros)) {
			if _, err := zw.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
				return
			}
		}
		_ = pw.CloseWithError(zw.Close())
	}()
	t.Cleanup(func() { _ = pr.Close() })
	return &countingReader{r: pr}
}

func TestGzipBombIsRefusedWhileReading(t *testing.T) {
	env := newTestServer(t)
	// 1 GiB of zeros, about 1 MiB compressed: opamp-go alone inflates all of
	// it into memory.
	bomb := gzipBomb(t, 1<<30)
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/opamp", bomb)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "gzip")
	rec := httptest.NewRecorder()
	env.handler.ServeHTTP(rec, req)

	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	assert.Less(t, bomb.n.Load(), int64(256<<10), "compressed bytes read: reading stops at MaxMessageBytes inflated")
	assert.InDelta(t, 1, env.rejected(servermetrics.ReasonBodyTooLarge), 0)
}

func TestDiagnosticTextsAreStoredCut(t *testing.T) {
	env := newTestServer(t)
	msg, uid := withUID(described(str("host.name", "web-1")))
	msg.Health = &protobufs.ComponentHealth{Healthy: false, LastError: strings.Repeat("e", 1<<20)}
	code, resp := env.post(t, bytes.NewReader(marshal(t, msg)), "")
	require.Equal(t, http.StatusOK, code)
	assert.Nil(t, resp.GetErrorResponse())
	a, err := env.store.GetAgent(t.Context(), uid.String())
	require.NoError(t, err)
	require.NotNil(t, a.Health)
	assert.Equal(t, MaxTextBytes, len(a.Health.LastError))
	assert.InDelta(t, 1, env.rejected(servermetrics.ReasonTextTruncated), 0)
}

func wsDial(t *testing.T, env *testServer) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), "ws"+strings.TrimPrefix(env.url, "http"), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// wsSend writes one OpAMP WebSocket message: a zero header byte, then the
// protobuf.
func wsSend(t *testing.T, conn *websocket.Conn, raw []byte) error {
	t.Helper()
	return conn.WriteMessage(websocket.BinaryMessage, append([]byte{0}, raw...))
}

func TestWebSocketMessagesAreBounded(t *testing.T) {
	env := newTestServer(t)

	// Within the limit: answered.
	conn := wsDial(t, env)
	msg, uid := withUID(described(str("host.name", "web-1")))
	require.NoError(t, wsSend(t, conn, marshal(t, msg)))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, raw, err := conn.ReadMessage()
	require.NoError(t, err)
	var resp protobufs.ServerToAgent
	require.NoError(t, proto.Unmarshal(raw[1:], &resp))
	assert.Nil(t, resp.GetErrorResponse())
	assert.True(t, env.stored(t, uid))

	// Over it: the connection is closed with 1009 once the frame header
	// announces the size, nothing is stored, and the log names the agent.
	big, _ := withUID(configMessage(map[string]string{"": strings.Repeat("a", MaxRequestBytes)}))
	big.InstanceUid = uid[:]
	_ = wsSend(t, conn, marshal(t, big)) // the server may close before all of it is written
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, _, err = conn.ReadMessage()
	require.Error(t, err)
	assert.True(t, websocket.IsCloseError(err, websocket.CloseMessageTooBig), "%v", err)
	assert.Eventually(t, func() bool { return env.rejected(servermetrics.ReasonMessageTooLarge) == 1 }, 5*time.Second, 10*time.Millisecond)
	a, err := env.store.GetAgent(t.Context(), uid.String())
	require.NoError(t, err)
	assert.Empty(t, a.EffectiveConfig)
	assert.Eventually(t, func() bool {
		return strings.Contains(env.logs.String(), "reason=message_too_large agent="+uid.String())
	},
		5*time.Second, 10*time.Millisecond)

	// On a new connection, before any message, the sender's address.
	conn = wsDial(t, env)
	_ = wsSend(t, conn, marshal(t, big))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, _, err = conn.ReadMessage()
	assert.True(t, websocket.IsCloseError(err, websocket.CloseMessageTooBig), "%v", err)
	assert.Eventually(t, func() bool { return env.rejected(servermetrics.ReasonMessageTooLarge) == 2 }, 5*time.Second, 10*time.Millisecond)
	assert.Eventually(t, func() bool { return strings.Contains(env.logs.String(), "reason=message_too_large agent=127.0.0.1") },
		5*time.Second, 10*time.Millisecond)

	// Within the transport limit but over a field limit: an OpAMP error.
	conn = wsDial(t, env)
	attrs, attrsUID := withUID(described(attributes(100_000)...))
	require.NoError(t, wsSend(t, conn, marshal(t, attrs)))
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, raw, err = conn.ReadMessage()
	require.NoError(t, err)
	require.NoError(t, proto.Unmarshal(raw[1:], &resp))
	require.NotNil(t, resp.GetErrorResponse())
	assert.Contains(t, resp.GetErrorResponse().GetErrorMessage(), "attributes")
	assert.False(t, env.stored(t, attrsUID))
}
