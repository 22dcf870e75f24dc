package apiclient

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/api"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{name: "no details", err: Error{Status: 404, Code: "not_found", Message: "agent not found"},
			want: "agent not found (HTTP 404, not_found)"},
		{name: "configuration problems", err: Error{Status: 422, Code: "invalid_config", Message: "invalid", Details: []apitypes.Problem{
			{Path: "service::pipelines::metrics", Message: "dangling"},
			{Message: "no path"},
		}}, want: "invalid (HTTP 422, invalid_config)\n  service::pipelines::metrics: dangling\n  no path"},
		{name: "parameter problems", err: Error{Status: 400, Code: "invalid_parameters", Message: "bad", Details: []apitypes.Problem{
			{Param: "k", Message: "too big"},
			{Param: "k", Arm: "candidate", Message: "too big"},
		}}, want: "bad (HTTP 400, invalid_parameters)\n  parameter \"k\": too big\n  candidate: parameter \"k\": too big"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.err.Error())
		})
	}
	assert.True(t, IsStatus(fmt.Errorf("wrapped: %w", &Error{Status: 404}), 404))
	assert.False(t, IsStatus(&Error{Status: 400}, 404))
	assert.False(t, IsStatus(fmt.Errorf("plain"), 404))
}

// canned serves one fixed response to every request.
func canned(t *testing.T, status int, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL+"/", "")
}

func TestDoEdgeCases(t *testing.T) {
	var out []string
	_, err := canned(t, http.StatusBadGateway, "upstream down\n").Do(t.Context(), http.MethodGet, "/x", nil, nil, &out)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr, "a proxy's non-JSON error is still an API error")
	assert.Equal(t, Error{Status: 502, Code: "http", Message: "upstream down"}, *apiErr)

	_, err = canned(t, http.StatusOK, "not json").Do(t.Context(), http.MethodGet, "/x", nil, nil, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decoding response")

	meta, err := canned(t, http.StatusOK, `{"data": {"a": 1}, "meta": {"request_id": "r1"}}`).
		Do(t.Context(), http.MethodGet, "/x", nil, nil, &out)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "decoding response data")
	assert.Equal(t, "r1", meta.RequestID, "the metadata is returned with a data error")

	_, err = canned(t, http.StatusNoContent, "").Do(t.Context(), http.MethodDelete, "/x", nil, nil, nil)
	assert.NoError(t, err)

	_, err = canned(t, http.StatusOK, "{}").Do(t.Context(), http.MethodPost, "/x", nil, func() {}, nil)
	assert.Error(t, err, "a body JSON cannot encode")
}

// realServer serves the REST API over an embedded store.
func realServer(t *testing.T, token string) (*Client, store.Store) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	assign, err := assignment.New(assignment.Settings{Store: st, Catalog: cat, Validate: distribution.ValidateYAML})
	require.NoError(t, err)
	a, err := api.New(api.Settings{Store: st, Catalog: cat, Assignments: assign, Metrics: servermetrics.New()})
	require.NoError(t, err)
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Authorization"); got != "Bearer "+token {
			http.Error(w, "unexpected Authorization "+got, http.StatusTeapot)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL, token), st
}

func TestCallsAgainstTheAPI(t *testing.T) {
	c, st := realServer(t, "tok")
	for i := range 5 {
		require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: fmt.Sprintf("agent/%d", i),
			Labels: map[string]string{"env": "prod"}, Online: i%2 == 0}))
	}
	online := true
	page, next, err := c.ListAgents(t.Context(), ListAgentsOptions{Selector: "env=prod", Online: &online, Limit: 2})
	require.NoError(t, err)
	assert.Len(t, page, 2)
	assert.NotEmpty(t, next)
	all, err := c.AllAgents(t.Context(), ListAgentsOptions{Limit: 2})
	require.NoError(t, err)
	assert.Len(t, all, 5)

	v, err := c.GetAgent(t.Context(), "agent/3")
	require.NoError(t, err, "instance UIDs are escaped in paths")
	assert.Equal(t, "agent/3", v.InstanceUID)

	minute := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, st.PutSamples(t.Context(), []apitypes.Sample{
		{InstanceUID: "agent/3", Name: "n", Variant: "candidate", Minute: minute, Value: 1},
		{InstanceUID: "agent/3", Name: "n", Variant: "baseline", Minute: minute, Value: 2},
	}))
	samples, err := c.AgentMetrics(t.Context(), "agent/3", "n", "candidate", minute, minute.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, samples, 1)
	assert.InDelta(t, 1, samples[0].Value, 0)

	// Instance UIDs here are not valid collector instance IDs (real ones are
	// UUIDs, and the server derives the parameter from them), so the
	// requests assign a configuration verbatim.
	baseline := apitypes.AssignRequest{Config: "receivers:\n  nop: {}\nexporters:\n  nop: {}\nservice:\n  pipelines:\n    metrics:\n      receivers: [nop]\n      exporters: [nop]\n"}
	asg, err := c.AssignAgent(t.Context(), "agent/3", baseline)
	require.NoError(t, err)
	assert.Equal(t, int64(1), asg.Generation)
	results, err := c.AssignMany(t.Context(), apitypes.BulkAssignRequest{AssignRequest: baseline, Selector: "env=prod"})
	require.NoError(t, err)
	assert.Len(t, results, 5)
	require.NoError(t, c.UnassignAgent(t.Context(), "agent/3"))

	pipelines, err := c.Pipelines(t.Context())
	require.NoError(t, err)
	assert.NotEmpty(t, pipelines)
	p, err := c.Pipeline(t.Context(), "baseline")
	require.NoError(t, err)
	assert.Equal(t, "baseline", p.Name)
	assert.NotEmpty(t, p.Params)
	r, err := c.RenderPipeline(t.Context(), "baseline", map[string]any{"memory_limit_mib": 64})
	require.NoError(t, err)
	assert.Equal(t, store.HashConfig([]byte(r.Config)), r.Hash)
	valid, err := c.ValidateConfig(t.Context(), r.Config)
	require.NoError(t, err)
	assert.Equal(t, apitypes.Validated{Valid: true, ConfigHash: r.Hash}, valid)

	_, err = c.ValidateConfig(t.Context(), "receivers: {nop: {}}")
	require.Error(t, err)
	assert.True(t, IsStatus(err, http.StatusUnprocessableEntity))
	_, err = c.GetAgent(t.Context(), "agent/9")
	assert.True(t, IsStatus(err, http.StatusNotFound))
}

func TestUnreachableServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := New(srv.URL, "").Pipelines(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "calling "+srv.URL)

	_, err = New("http://127.0.0.1:1\x7f", "").Do(t.Context(), http.MethodGet, "/x", url.Values{"a": {"b"}}, nil, nil)
	assert.Error(t, err, "a malformed base URL")
}
