package api

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

func TestNewRequiresStoreCatalogAndMetrics(t *testing.T) {
	env := newTestEnv(t)
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	for name, set := range map[string]Settings{
		"no store":   {Catalog: cat, Metrics: servermetrics.New()},
		"no catalog": {Store: env.store, Metrics: servermetrics.New()},
		"no metrics": {Store: env.store, Catalog: cat},
	} {
		_, err := New(set)
		assert.Error(t, err, name)
	}
}

func TestEnvelopeAndRequestID(t *testing.T) {
	env := newTestEnv(t)
	hexID := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name   string
		sent   string
		echoed bool
	}{
		{name: "given ID is echoed", sent: "req-42", echoed: true},
		{name: "missing ID is generated"},
		{name: "overlong ID is replaced", sent: strings.Repeat("x", 65)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.sent != "" {
				headers = []string{"X-Request-ID", tt.sent}
			}
			resp := env.do(t, http.MethodGet, apitypes.Prefix+"/pipelines", nil, headers...)
			pipelines, meta := data[[]catalog.Pipeline](t, resp)
			assert.NotEmpty(t, pipelines)
			if tt.echoed {
				assert.Equal(t, tt.sent, meta.RequestID)
			} else {
				assert.Regexp(t, hexID, meta.RequestID)
			}
			assert.Empty(t, meta.NextCursor)
		})
	}

	// Errors carry the request ID in the header too.
	resp := env.do(t, http.MethodGet, apitypes.Prefix+"/agents/nobody", nil, "X-Request-ID", "req-err")
	apiError(t, resp, http.StatusNotFound, apitypes.CodeNotFound)
	assert.Equal(t, "req-err", resp.header.Get("X-Request-ID"))
}

func TestAuthentication(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	assign := map[string]any{"config": validConfig}
	tests := []struct {
		name           string
		method, path   string
		body           any
		authorization  string
		status         int
		code           apitypes.ErrorCode
		wantChallenge  bool
		wantAssignment bool
	}{
		{name: "no token", method: http.MethodGet, path: "/agents", status: 401, code: apitypes.CodeUnauthorized, wantChallenge: true},
		{name: "unknown token", method: http.MethodGet, path: "/agents", authorization: "Bearer nope",
			status: 401, code: apitypes.CodeUnauthorized, wantChallenge: true},
		{name: "not a bearer scheme", method: http.MethodGet, path: "/agents", authorization: "Basic " + viewerToken,
			status: 401, code: apitypes.CodeUnauthorized, wantChallenge: true},
		{name: "viewer reads", method: http.MethodGet, path: "/agents", authorization: "Bearer " + viewerToken, status: 200},
		{name: "scheme is case-insensitive", method: http.MethodGet, path: "/pipelines",
			authorization: "bearer " + viewerToken, status: 200},
		{name: "viewer may not assign", method: http.MethodPut, path: "/agents/agent-1/config", body: assign,
			authorization: "Bearer " + viewerToken, status: 403, code: apitypes.CodeForbidden},
		{name: "viewer may not unassign", method: http.MethodDelete, path: "/agents/agent-1/config",
			authorization: "Bearer " + viewerToken, status: 403, code: apitypes.CodeForbidden},
		{name: "enrollment token may not read the API", method: http.MethodGet, path: "/agents",
			authorization: "Bearer " + enrollToken, status: 403, code: apitypes.CodeForbidden},
		{name: "operator assigns", method: http.MethodPut, path: "/agents/agent-1/config", body: assign,
			authorization: "Bearer " + operatorToken, status: 200, wantAssignment: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.authorization != "" {
				headers = []string{"Authorization", tt.authorization}
			}
			resp := env.do(t, tt.method, apitypes.Prefix+tt.path, tt.body, headers...)
			if tt.code != "" {
				apiError(t, resp, tt.status, tt.code)
			} else {
				assert.Equal(t, tt.status, resp.status, "body: %s", resp.body)
			}
			if tt.wantChallenge {
				assert.Equal(t, `Bearer realm="phoenix"`, resp.header.Get("WWW-Authenticate"))
			} else {
				assert.Empty(t, resp.header.Get("WWW-Authenticate"))
			}
			if tt.wantAssignment {
				asg, _ := data[apitypes.Assignment](t, resp)
				assert.Equal(t, "assigned by otto", asg.Reason, "the reason names the authenticated caller")
			}
		})
	}
	_, err := env.store.GetAssignment(t.Context(), "agent-1")
	require.NoError(t, err, "only the operator's assignment got through")
}

func TestPanickingHandlerBecomesInternalError(t *testing.T) {
	env := newTestEnv(t)
	h := env.api.wrap(route{method: http.MethodGet, pattern: "/boom"}, func(http.ResponseWriter, *http.Request) {
		panic("handler bug")
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, apitypes.Prefix+"/boom", nil))
	e := apiError(t, response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()},
		http.StatusInternalServerError, apitypes.CodeInternal)
	assert.NotContains(t, e.Message, "handler bug", "panic values are logged, not returned")
	assert.Equal(t, uint64(1), requestCount(t, env, "/boom", http.MethodGet, "500"))
}

func TestRequestDurationIsLabelledByRoutePattern(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1", nil)
	env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-2", nil)
	env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1", nil)
	env.do(t, http.MethodGet, apitypes.Prefix+"/agents", nil)

	assert.Equal(t, uint64(2), requestCount(t, env, "/agents/{uid}", http.MethodGet, "200"),
		"requests for different agents share one series, labelled with the pattern")
	assert.Equal(t, uint64(1), requestCount(t, env, "/agents/{uid}", http.MethodGet, "404"))
	assert.Equal(t, uint64(1), requestCount(t, env, "/agents", http.MethodGet, "200"))
	assert.Zero(t, requestCount(t, env, "/agents/agent-1", http.MethodGet, "200"), "no series per agent")
}

// requestCount returns the number of observations of
// phoenix_api_request_duration_seconds with the given labels.
func requestCount(t *testing.T, env *testEnv, route, method, code string) uint64 {
	t.Helper()
	families, err := env.metrics.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "phoenix_api_request_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			if labels(m) == [3]string{route, method, code} {
				return m.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func labels(m *dto.Metric) [3]string {
	var out [3]string
	for _, l := range m.GetLabel() {
		switch l.GetName() {
		case "route":
			out[0] = l.GetValue()
		case "method":
			out[1] = l.GetValue()
		case "code":
			out[2] = l.GetValue()
		}
	}
	return out
}

func TestStoreFailureIsUnavailable(t *testing.T) {
	env := newTestEnv(t)
	require.NoError(t, env.store.Close())
	apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents", nil), http.StatusServiceUnavailable, apitypes.CodeUnavailable)
	apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1", nil), http.StatusServiceUnavailable, apitypes.CodeUnavailable)
}

func TestPrincipalWithoutAuthentication(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	resp := env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", map[string]any{"config": validConfig})
	asg, _ := data[apitypes.Assignment](t, resp)
	assert.Equal(t, "assigned by anonymous", asg.Reason)
}
