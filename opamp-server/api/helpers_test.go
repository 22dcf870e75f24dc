package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

// Tokens withTokens accepts, one per role the tests need.
const (
	viewerToken   = "viewer-token-0000000000000000"
	operatorToken = "operator-token-00000000000000"
	adminToken    = "admin-token-0000000000000000"
	enrollToken   = "enroll-token-000000000000000"
)

// recordingPusher is an api.Pusher that records which agents it was asked
// to push to.
type recordingPusher struct {
	mu     sync.Mutex
	pushed []string
	err    error
}

func (p *recordingPusher) Push(_ context.Context, uid string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushed = append(p.pushed, uid)
	return p.err
}

func (p *recordingPusher) calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.pushed...)
}

// testEnv is the API over a real embedded store and the real catalog.
type testEnv struct {
	api     *API
	store   store.Store
	pusher  *recordingPusher
	metrics *servermetrics.Metrics
	mux     *http.ServeMux
}

// ownTelemetryURL is where the test server's collectors would report.
const ownTelemetryURL = "http://127.0.0.1:8080/v1/metrics"

func newTestEnv(t testing.TB, opts ...func(*Settings)) *testEnv {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	env := &testEnv{store: st, pusher: &recordingPusher{}, metrics: servermetrics.New(), mux: http.NewServeMux()}
	assign, err := assignment.New(assignment.Settings{Store: st, Catalog: cat, Validate: distribution.ValidateYAML,
		Pusher: env.pusher, OwnTelemetryURL: ownTelemetryURL, EnvAllowlist: assignment.DefaultEnvAllowlist})
	require.NoError(t, err)
	set := Settings{Store: st, Catalog: cat, Assignments: assign, Metrics: env.metrics}
	for _, o := range opts {
		o(&set)
	}
	env.api, err = New(set)
	require.NoError(t, err)
	env.api.Register(env.mux)
	return env
}

// withTokens turns authentication on with a viewer, an operator, an admin
// and an enrollment token, and the agent credentials in the store.
func withTokens(t *testing.T) func(*Settings) {
	t.Helper()
	a, err := auth.New([]auth.TokenEntry{
		{Name: "vera", TokenSHA256: auth.Digest(viewerToken), Roles: []auth.Role{auth.RoleViewer}},
		{Name: "otto", TokenSHA256: auth.Digest(operatorToken), Roles: []auth.Role{auth.RoleOperator}},
		{Name: "ada", TokenSHA256: auth.Digest(adminToken), Roles: []auth.Role{auth.RoleAdmin}},
		{Name: "hosts", TokenSHA256: auth.Digest(enrollToken), Roles: []auth.Role{auth.RoleEnroll}},
	})
	require.NoError(t, err)
	return func(s *Settings) { s.Auth = a.WithAgentCredentials(store.CredentialLookup(s.Store)) }
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// do serves one request. body is sent as is when it is a string, as JSON
// otherwise; headers are name, value pairs.
func (e *testEnv) do(t *testing.T, method, target string, body any, headers ...string) response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(raw)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, target, rd)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// data decodes a successful response's envelope, checking its shape.
func data[T any](t *testing.T, r response) (T, apitypes.Meta) {
	t.Helper()
	var out T
	require.Less(t, r.status, 300, "status %d: %s", r.status, r.body)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	var env struct {
		Data json.RawMessage `json:"data"`
		Meta apitypes.Meta   `json:"meta"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&env), "the envelope is {data, meta} and nothing else: %s", r.body)
	assert.Equal(t, r.header.Get("X-Request-ID"), env.Meta.RequestID, "meta.request_id echoes the header")
	assert.False(t, env.Meta.Timestamp.IsZero(), "meta.timestamp is set")
	require.NoError(t, json.Unmarshal(env.Data, &out))
	return out, env.Meta
}

// apiError decodes an error response, checking its shape and status.
func apiError(t *testing.T, r response, status int, code apitypes.ErrorCode) apitypes.Error {
	t.Helper()
	require.Equal(t, status, r.status, "body: %s", r.body)
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	var body apitypes.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&body), "the error body is {error{code,message,details}}: %s", r.body)
	assert.Equal(t, code, body.Error.Code)
	assert.NotEmpty(t, body.Error.Message)
	return body.Error
}

// details are an error's problems as JSON objects, as a client sees them.
func details(e apitypes.Error) []map[string]any {
	raw, _ := json.Marshal(e.Details)
	var d []map[string]any
	_ = json.Unmarshal(raw, &d)
	return d
}

// putAgent stores an agent, filling what every agent has.
func putAgent(t *testing.T, st store.Store, a apitypes.Agent) apitypes.Agent {
	t.Helper()
	if a.FirstSeen.IsZero() {
		a.FirstSeen = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
		a.LastSeen = a.FirstSeen
	}
	require.NoError(t, st.UpsertAgent(t.Context(), a))
	return a
}

const validConfig = `receivers:
  host_metrics:
    scrapers:
      process: {}
processors:
  process_critical: {}
exporters:
  nop: {}
service:
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_critical]
      exporters: [nop]
`

// invalidConfig refers to a processor it does not configure, and gives
// process_critical a rule with a bad regular expression.
const invalidConfig = `receivers:
  host_metrics:
    scrapers:
      process: {}
processors:
  process_critical:
    rules: [{name: db, executable_name: "("}]
exporters:
  nop: {}
service:
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_critical, batch]
      exporters: [nop]
`
