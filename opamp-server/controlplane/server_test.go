package controlplane

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
)

// testConfig listens on free loopback ports with a fresh data directory.
func testConfig(t *testing.T) Config {
	t.Helper()
	c := DefaultConfig()
	c.OpAMPListen, c.APIListen = "127.0.0.1:0", "127.0.0.1:0"
	c.DataDir = t.TempDir()
	c.ServerID = "test-replica"
	return c
}

// startServer runs a server until the test ends.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	return startLoggedServer(t, cfg, nil)
}

// startLoggedServer is startServer logging to log (nil: nowhere).
func startLoggedServer(t *testing.T, cfg Config, log *slog.Logger) *Server {
	t.Helper()
	s, err := New(t.Context(), cfg, log)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.WithoutCancel(t.Context())))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.Stop(ctx))
	})
	return s
}

// client speaks to one server, closing its connections when the test ends.
type client struct {
	t    *testing.T
	http *http.Client
}

func newClient(t *testing.T) *client {
	c := &client{t: t, http: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

func (c *client) do(method, url, token, contentType string, body []byte) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, url, bytes.NewReader(body))
	require.NoError(c.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, resp.Header, raw
}

func (c *client) get(url, token string) (int, string) {
	c.t.Helper()
	status, _, body := c.do(http.MethodGet, url, token, "", nil)
	return status, string(body)
}

// poll sends one plain-HTTP OpAMP message, as a polling supervisor does.
func (c *client) poll(s *Server, token string, msg *protobufs.AgentToServer) (int, *protobufs.ServerToAgent) {
	c.t.Helper()
	raw, err := proto.Marshal(msg)
	require.NoError(c.t, err)
	url := "http" + strings.TrimPrefix(s.OpAMPURL(), "ws")
	status, _, body := c.do(http.MethodPost, url, token, "application/x-protobuf", raw)
	var resp protobufs.ServerToAgent
	if status == http.StatusOK {
		require.NoError(c.t, proto.Unmarshal(body, &resp))
	}
	return status, &resp
}

func readToken(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(raw))
}

func kv(k, v string) *protobufs.KeyValue {
	return &protobufs.KeyValue{Key: k, Value: &protobufs.AnyValue{Value: &protobufs.AnyValue_StringValue{StringValue: v}}}
}

func TestServerEndToEndInProcess(t *testing.T) {
	s := startServer(t, testConfig(t))
	c := newClient(t)
	g := s.Tokens()
	require.True(t, g.Created, "a fresh data directory gets default tokens")
	admin, enroll := readToken(t, g.AdminToken), readToken(t, g.EnrollToken)

	status, body := c.get(s.APIURL()+"/healthz", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", body)
	status, body = c.get(s.APIURL()+"/readyz", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ready\n", body)

	// A host enrolls, and its supervisor reports itself over plain HTTP
	// with the identity it was given.
	status, _, raw := c.do(http.MethodPost, s.APIURL()+apitypes.Prefix+"/agents/enroll", enroll, "application/json", []byte(`{}`))
	require.Equal(t, http.StatusCreated, status, string(raw))
	var enrolled struct{ Data apitypes.AgentCredential }
	require.NoError(t, json.Unmarshal(raw, &enrolled))
	agent, uid := enrolled.Data.Token, uuid.MustParse(enrolled.Data.InstanceUID)
	status, _ = c.poll(s, "", &protobufs.AgentToServer{InstanceUid: uid[:]})
	assert.Equal(t, http.StatusUnauthorized, status, "OpAMP needs a token")
	status, _ = c.poll(s, admin, &protobufs.AgentToServer{InstanceUid: uid[:]})
	assert.Equal(t, http.StatusForbidden, status, "OpAMP needs an agent credential")
	status, _ = c.poll(s, enroll, &protobufs.AgentToServer{InstanceUid: uid[:]})
	assert.Equal(t, http.StatusForbidden, status, "the enrollment token speaks for no agent")
	other := uuid.MustParse("0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b")
	status, _ = c.poll(s, agent, &protobufs.AgentToServer{InstanceUid: other[:]})
	assert.Equal(t, http.StatusForbidden, status, "an agent credential speaks only for its own agent")
	status, resp := c.poll(s, agent, &protobufs.AgentToServer{InstanceUid: uid[:], AgentDescription: &protobufs.AgentDescription{
		IdentifyingAttributes:    []*protobufs.KeyValue{kv("service.name", "phoenix-collector")},
		NonIdentifyingAttributes: []*protobufs.KeyValue{kv("host.name", "web-1"), kv(apitypes.AgentParamLabelPrefix+"health_check_endpoint", "127.0.0.1:13134")},
	}})
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, uid[:], resp.GetInstanceUid())

	// The API sees it, and assigns it a pipeline with its own parameters.
	status, _, raw = c.do(http.MethodGet, s.APIURL()+apitypes.Prefix+"/agents/"+uid.String(), admin, "", nil)
	require.Equal(t, http.StatusOK, status, string(raw))
	var got struct{ Data apitypes.AgentView }
	require.NoError(t, json.Unmarshal(raw, &got))
	assert.Equal(t, "web-1", got.Data.Labels["host.name"])
	assert.True(t, got.Data.Online)
	assert.Equal(t, "test-replica", got.Data.ServerID)

	status, _, raw = c.do(http.MethodPut, s.APIURL()+apitypes.Prefix+"/agents/"+uid.String()+"/config", admin, "application/json",
		[]byte(`{"pipeline": "baseline"}`))
	require.Equal(t, http.StatusOK, status, string(raw))
	var asg struct{ Data apitypes.Assignment }
	require.NoError(t, json.Unmarshal(raw, &asg))
	assert.Equal(t, uid.String(), asg.Data.Parameters["instance_id"])
	assert.Equal(t, s.OwnTelemetryURL(), asg.Data.Parameters["telemetry_endpoint"])
	assert.Equal(t, apitypes.AgentTokenEnv, asg.Data.Parameters["telemetry_token_env"])
	assert.Equal(t, "127.0.0.1:13134", asg.Data.Parameters["health_check_endpoint"], "from the agent's phoenix.param.* label")

	// Its collector reports its own telemetry, with its credential only,
	// and only for itself.
	ownURL := s.OwnTelemetryURL()
	exportFor := func(instance string) []byte {
		req := pmetricotlp.NewExportRequest()
		req.Metrics().ResourceMetrics().AppendEmpty().Resource().Attributes().PutStr("service.instance.id", instance)
		raw, err := req.MarshalProto()
		require.NoError(t, err)
		return raw
	}
	for _, tc := range []struct {
		token, instance string
		want            int
	}{
		{"", uid.String(), http.StatusUnauthorized},
		{admin, uid.String(), http.StatusForbidden},
		{enroll, uid.String(), http.StatusForbidden},
		{agent, other.String(), http.StatusForbidden},
		{agent, uid.String(), http.StatusOK},
	} {
		status, _, raw := c.do(http.MethodPost, ownURL, tc.token, "application/x-protobuf", exportFor(tc.instance))
		assert.Equal(t, tc.want, status, "%+v: %s", tc, raw)
	}

	// The server's own metrics describe all of it.
	status, metrics := c.get(s.APIURL()+"/metrics", "")
	require.Equal(t, http.StatusOK, status)
	for _, want := range []string{
		"# TYPE phoenix_agents gauge",
		`phoenix_agents{config_status="UNSET",online="true"} 1`,
		"# TYPE phoenix_opamp_messages_total counter",
		`phoenix_opamp_messages_total{kind="description"} 1`,
		`phoenix_opamp_errors_total{stage="auth"} 3`,
		`phoenix_agent_auth_refused_total{reason="wrong_agent",source="opamp"} 1`,
		`phoenix_agent_auth_refused_total{reason="not_an_agent",source="opamp"} 2`,
		`phoenix_agent_auth_refused_total{reason="wrong_agent",source="own_telemetry"} 1`,
		`phoenix_api_request_duration_seconds_count{code="200",method="PUT",route="/agents/{uid}/config"} 1`,
		"go_goroutines",
	} {
		assert.Contains(t, metrics, want)
	}
}

func TestReadiness(t *testing.T) {
	s, err := New(t.Context(), testConfig(t), nil)
	require.NoError(t, err)
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		s.apiHTTP.Handler.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	status, body := readyz()
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "starting")

	require.NoError(t, s.Start(context.WithoutCancel(t.Context())))
	status, _ = readyz()
	assert.Equal(t, http.StatusOK, status)

	// The store going away makes the replica unready, and /metrics keeps
	// serving everything it can still collect.
	require.NoError(t, s.Store().UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "agent-1"}))
	require.NoError(t, s.Store().Close())
	status, body = readyz()
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "store unavailable")
	rec := httptest.NewRecorder()
	s.apiHTTP.Handler.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), "phoenix_config_pushes_total 0")
	assert.NotContains(t, rec.Body.String(), "phoenix_agents{")

	require.NoError(t, s.Stop(t.Context()))
	status, _ = readyz()
	assert.Equal(t, http.StatusServiceUnavailable, status, "a stopping replica is not ready")
	_, err = net.Dial("tcp", strings.TrimPrefix(s.APIURL(), "http://"))
	assert.Error(t, err, "Stop closes the listeners")
}

func TestNoAuth(t *testing.T) {
	cfg := testConfig(t)
	cfg.NoAuth = true
	s := startServer(t, cfg)
	c := newClient(t)
	assert.Equal(t, auth.Generated{}, s.Tokens(), "no tokens are generated")
	_, err := os.Stat(filepath.Join(cfg.DataDir, "tokens.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	status, _ := c.get(s.APIURL()+apitypes.Prefix+"/agents", "")
	assert.Equal(t, http.StatusOK, status)
	export, err := pmetricotlp.NewExportRequest().MarshalProto()
	require.NoError(t, err)
	status, _, _ = c.do(http.MethodPost, s.OwnTelemetryURL(), "", "application/x-protobuf", export)
	assert.Equal(t, http.StatusOK, status)
}

func TestTokensFile(t *testing.T) {
	cfg := testConfig(t)
	cfg.TokensFile = filepath.Join(t.TempDir(), "tokens.yaml")
	require.NoError(t, os.WriteFile(cfg.TokensFile, []byte("tokens:\n  - name: ops\n    token_sha256: "+
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n    roles: [viewer]\n"), 0o600))
	s := startServer(t, cfg)
	c := newClient(t)
	status, _ := c.get(s.APIURL()+apitypes.Prefix+"/agents", "abc")
	assert.Equal(t, http.StatusOK, status)
	status, _ = c.get(s.APIURL()+apitypes.Prefix+"/agents", "")
	assert.Equal(t, http.StatusUnauthorized, status)
	_, err := os.Stat(filepath.Join(cfg.DataDir, "admin.token"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a tokens file replaces the generated tokens")
}

func TestNewFailsFast(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })
	notADir := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(notADir, nil, 0o600))
	badTokens := filepath.Join(t.TempDir(), "tokens.yaml")
	require.NoError(t, os.WriteFile(badTokens, []byte("tokens:\n  - name: ops\n    token: plain-text\n"), 0o600))

	tests := []struct {
		name    string
		edit    func(*Config)
		mention []string
	}{
		{name: "API port taken", edit: func(c *Config) { c.APIListen = taken.Addr().String() },
			mention: []string{"API listener " + taken.Addr().String(), "address already in use"}},
		{name: "OpAMP port taken", edit: func(c *Config) { c.OpAMPListen = taken.Addr().String() },
			mention: []string{"OpAMP listener " + taken.Addr().String(), "address already in use"}},
		{name: "invalid tokens file", edit: func(c *Config) { c.TokensFile = badTokens },
			mention: []string{"loading tokens", badTokens, "token not found"}},
		{name: "missing tokens file", edit: func(c *Config) { c.TokensFile = badTokens + ".missing" },
			mention: []string{"loading tokens", "no such file"}},
		{name: "unusable data directory", edit: func(c *Config) { c.DataDir = filepath.Join(notADir, "phoenix") },
			mention: []string{"creating default tokens"}},
		{name: "store is a directory", edit: func(c *Config) { c.Store = t.TempDir() }, mention: []string{"opening store"}},
		{name: "invalid configuration", edit: func(c *Config) { c.ServerID = "" }, mention: []string{"server_id"}},
		{name: "unreadable TLS files", edit: func(c *Config) { c.TLSCertFile, c.TLSKeyFile = notADir, notADir },
			mention: []string{"loading TLS certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			tt.edit(&cfg)
			s, err := New(t.Context(), cfg, nil)
			require.Error(t, err)
			assert.Nil(t, s)
			for _, m := range tt.mention {
				assert.Contains(t, err.Error(), m)
			}
			// Nothing is left held: the same settings with free ports start.
			if cfg.Validate() == nil && cfg.TLSCertFile == "" && cfg.TokensFile == "" && cfg.Store == "" &&
				!strings.HasPrefix(cfg.DataDir, notADir) {
				cfg.OpAMPListen, cfg.APIListen = "127.0.0.1:0", "127.0.0.1:0"
				s, err := New(t.Context(), cfg, nil)
				require.NoError(t, err, "the failed New released the store")
				require.NoError(t, s.Stop(t.Context()))
			}
		})
	}
}

func TestAgentParams(t *testing.T) {
	cfg := testConfig(t)
	cfg.PublicURL = "https://phoenix.example.com/"
	s, err := New(t.Context(), cfg, nil)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, s.Stop(context.Background())) })
	require.NoError(t, s.Store().UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "agent-1", Labels: map[string]string{
		apitypes.AgentParamLabelPrefix + "health_check_endpoint": "127.0.0.1:13134",
		apitypes.AgentParamLabelPrefix + "memory_limit_mib":      "256",
		apitypes.AgentParamLabelPrefix:                           "no name",
		"env":                                                    "prod",
	}}))

	base := map[string]any{"telemetry_endpoint": "https://phoenix.example.com/v1/metrics", "telemetry_token_env": apitypes.AgentTokenEnv}
	withID := func(uid string, extra map[string]any) map[string]any {
		out := map[string]any{"instance_id": uid}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range extra {
			out[k] = v
		}
		return out
	}
	assert.Equal(t, withID("agent-1", map[string]any{"health_check_endpoint": "127.0.0.1:13134", "memory_limit_mib": 256}),
		s.assign.AgentParams(t.Context(), "agent-1"))
	assert.Equal(t, withID("agent-2", nil), s.assign.AgentParams(t.Context(), "agent-2"), "an unknown agent gets the server's parameters")
}

// addrListener is a listener that was bound to addr, for URL tests.
type addrListener struct {
	net.Listener
	addr net.Addr
}

func (l addrListener) Addr() net.Addr { return l.addr }

func TestURLs(t *testing.T) {
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	tests := []struct {
		name                 string
		cfg                  Config
		addr                 net.Addr
		api, opamp, ownTelem string
	}{
		{name: "all interfaces (:8080)", addr: tcp("", 8080), api: "http://127.0.0.1:8080",
			opamp: "ws://127.0.0.1:8080/v1/opamp", ownTelem: "http://127.0.0.1:8080/v1/metrics"},
		{name: "all IPv6 interfaces", addr: tcp("::", 8080), api: "http://127.0.0.1:8080",
			opamp: "ws://127.0.0.1:8080/v1/opamp", ownTelem: "http://127.0.0.1:8080/v1/metrics"},
		{name: "one address", addr: tcp("10.1.2.3", 80), api: "http://10.1.2.3:80",
			opamp: "ws://10.1.2.3:80/v1/opamp", ownTelem: "http://10.1.2.3:80/v1/metrics"},
		{name: "IPv6 loopback", addr: tcp("::1", 80), api: "http://[::1]:80",
			opamp: "ws://[::1]:80/v1/opamp", ownTelem: "http://[::1]:80/v1/metrics"},
		{name: "TLS", cfg: Config{TLSCertFile: "c", TLSKeyFile: "k"}, addr: tcp("127.0.0.1", 443), api: "https://127.0.0.1:443",
			opamp: "wss://127.0.0.1:443/v1/opamp", ownTelem: "https://127.0.0.1:443/v1/metrics"},
		{name: "public URL", cfg: Config{PublicURL: "https://phoenix.example.com/"}, addr: tcp("", 8080), api: "http://127.0.0.1:8080",
			opamp: "ws://127.0.0.1:8080/v1/opamp", ownTelem: "https://phoenix.example.com/v1/metrics"},
		{name: "not host:port", addr: &net.UnixAddr{Name: "/run/phoenix.sock", Net: "unix"}, api: "http:///run/phoenix.sock",
			opamp: "ws:///run/phoenix.sock/v1/opamp", ownTelem: "http:///run/phoenix.sock/v1/metrics"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Server{cfg: tt.cfg, apiLn: addrListener{addr: tt.addr}, opampLn: addrListener{addr: tt.addr}}
			assert.Equal(t, tt.api, s.APIURL())
			assert.Equal(t, tt.opamp, s.OpAMPURL())
			assert.Equal(t, tt.ownTelem, s.OwnTelemetryURL())
		})
	}

	s := startServer(t, testConfig(t))
	_, port, err := net.SplitHostPort(s.apiLn.Addr().String())
	require.NoError(t, err)
	assert.NotEqual(t, "0", port)
	assert.Equal(t, "http://127.0.0.1:"+port+"/v1/metrics", s.OwnTelemetryURL(), "the bound port, not :0")
}

func TestTLS(t *testing.T) {
	cfg := testConfig(t)
	cfg.TLSCertFile, cfg.TLSKeyFile = writeSelfSigned(t)
	s := startServer(t, cfg)
	require.True(t, strings.HasPrefix(s.APIURL(), "https://"))
	require.True(t, strings.HasPrefix(s.OpAMPURL(), "wss://"))

	c := newClient(t)
	c.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // self-signed test certificate
	status, body := c.get(s.APIURL()+"/healthz", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok\n", body)
}

func writeSelfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

func TestStopWithoutStartReleasesPorts(t *testing.T) {
	s, err := New(t.Context(), testConfig(t), nil)
	require.NoError(t, err)
	addrs := []string{s.apiLn.Addr().String(), s.opampLn.Addr().String()}
	require.NoError(t, s.Stop(t.Context()))
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		require.NoError(t, err, "%s is still held after Stop", addr)
		require.NoError(t, ln.Close())
	}
}
