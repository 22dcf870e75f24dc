package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// seedFleet stores ten agents: even ones run in prod, every third is online,
// host names alternate web-N and db-N.
func seedFleet(t *testing.T, st store.Store) []apitypes.Agent {
	t.Helper()
	var agents []apitypes.Agent
	for i := range 10 {
		env, host := "staging", fmt.Sprintf("db-%d", i)
		if i%2 == 0 {
			env = "prod"
		}
		if i%4 < 2 {
			host = fmt.Sprintf("web-%d", i)
		}
		agents = append(agents, putAgent(t, st, apitypes.Agent{
			InstanceUID: fmt.Sprintf("agent-%02d", i),
			Labels:      map[string]string{"env": env, "host.name": host},
			Online:      i%3 == 0,
		}))
	}
	return agents
}

// listAll follows every page of GET /agents?query, with the given page size.
func listAll(t *testing.T, env *testEnv, query url.Values, limit int) (uids []string, pages int) {
	t.Helper()
	query.Set("limit", fmt.Sprint(limit))
	for {
		views, meta := data[[]apitypes.AgentView](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents?"+query.Encode(), nil))
		pages++
		require.LessOrEqual(t, len(views), limit)
		for _, v := range views {
			uids = append(uids, v.InstanceUID)
		}
		if meta.NextCursor == "" {
			return uids, pages
		}
		require.Less(t, pages, 20, "pagination does not end")
		query.Set("cursor", meta.NextCursor)
	}
}

func TestListAgentsPaginatesWithFilters(t *testing.T) {
	env := newTestEnv(t)
	agents := seedFleet(t, env.store)
	want := func(keep func(apitypes.Agent) bool) []string {
		var uids []string
		for _, a := range agents {
			if keep(a) {
				uids = append(uids, a.InstanceUID)
			}
		}
		return uids
	}
	tests := []struct {
		name  string
		query url.Values
		want  []string
	}{
		{name: "everything", query: url.Values{}, want: want(func(apitypes.Agent) bool { return true })},
		{name: "equality", query: url.Values{"selector": {"env=prod"}},
			want: want(func(a apitypes.Agent) bool { return a.Labels["env"] == "prod" })},
		{name: "regex and equality", query: url.Values{"selector": {"env=prod,host.name=~web-.*"}},
			want: want(func(a apitypes.Agent) bool {
				return a.Labels["env"] == "prod" && a.Labels["host.name"][:3] == "web"
			})},
		{name: "repeated selector parameters are a conjunction", query: url.Values{"selector": {"host.name=~db-.*", "env!=prod"}},
			want: want(func(a apitypes.Agent) bool {
				return a.Labels["env"] != "prod" && a.Labels["host.name"][:2] == "db"
			})},
		{name: "online", query: url.Values{"online": {"true"}}, want: want(func(a apitypes.Agent) bool { return a.Online })},
		{name: "offline in prod", query: url.Values{"online": {"false"}, "selector": {"env=prod"}},
			want: want(func(a apitypes.Agent) bool { return !a.Online && a.Labels["env"] == "prod" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEmpty(t, tt.want)
			got, pages := listAll(t, env, tt.query, 2)
			assert.Equal(t, tt.want, got, "every match once, in instance UID order")
			assert.GreaterOrEqual(t, pages, 2, "the listing spans pages")
		})
	}
}

func TestListAgentsShowsNoConfigurationText(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1", EffectiveConfig: validConfig})
	_, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-1", Config: validConfig})
	require.NoError(t, err)

	views, _ := data[[]apitypes.AgentView](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents", nil))
	require.Len(t, views, 1)
	assert.Empty(t, views[0].EffectiveConfig)
	require.NotNil(t, views[0].Assignment)
	assert.Empty(t, views[0].Assignment.Config)
	assert.Equal(t, store.HashConfig([]byte(validConfig)), views[0].Assignment.ConfigHash)
	assert.Equal(t, apitypes.DriftPending, views[0].Drift.State)
}

func TestListAgentsRejectsBadQueries(t *testing.T) {
	env := newTestEnv(t)
	seedFleet(t, env.store)
	tests := []struct {
		name, query, mention string
	}{
		{name: "selector without operator", query: "selector=env", mention: "env"},
		{name: "selector with a bad regex", query: "selector=" + url.QueryEscape("host=~("), mention: "regular expression"},
		{name: "online not a boolean", query: "online=maybe", mention: "online"},
		{name: "limit zero", query: "limit=0", mention: "limit"},
		{name: "limit too large", query: "limit=1001", mention: "limit"},
		{name: "limit not a number", query: "limit=ten", mention: "limit"},
		{name: "cursor not ours", query: "cursor=%21%21", mention: "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents?"+tt.query, nil), http.StatusBadRequest, apitypes.CodeBadRequest)
			assert.Contains(t, e.Message, tt.mention)
		})
	}
}

func TestGetAgent(t *testing.T) {
	env := newTestEnv(t)
	effective := "exporters:\n  otlp_http:\n    headers:\n      Authorization: Bearer s3cr3t-t0ken-value\n"
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1", EffectiveConfig: effective,
		Labels: map[string]string{"env": "prod"}})
	asg, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-1", Config: validConfig, Reason: "test"})
	require.NoError(t, err)

	v, _ := data[apitypes.AgentView](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1", nil))
	assert.Equal(t, "agent-1", v.InstanceUID)
	assert.Equal(t, map[string]string{"env": "prod"}, v.Labels)
	assert.Contains(t, v.EffectiveConfig, "Authorization: Bearer <redacted>")
	assert.NotContains(t, v.EffectiveConfig, "s3cr3t", "credentials in an effective configuration are never served")
	require.NotNil(t, v.Assignment)
	assert.Equal(t, validConfig, v.Assignment.Config)
	assert.Equal(t, asg.Generation, v.Assignment.Generation)
	assert.Equal(t, "test", v.Assignment.Reason)
	assert.Equal(t, apitypes.DriftPending, v.Drift.State)

	apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-2", nil), http.StatusNotFound, apitypes.CodeNotFound)
}

func TestGetUnassignedAgent(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	v, _ := data[apitypes.AgentView](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1", nil))
	assert.Nil(t, v.Assignment)
	assert.Equal(t, apitypes.Drift{State: apitypes.DriftUnassigned}, v.Drift)
}

func TestAgentMetrics(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	var samples []apitypes.Sample
	for i := range 3 {
		for _, variant := range []string{"baseline", "candidate"} {
			samples = append(samples, apitypes.Sample{InstanceUID: "agent-1", Name: "otelcol_processor_cost_meter_datapoints",
				Variant: variant, Minute: t0.Add(time.Duration(i) * time.Minute), Value: float64(i)})
		}
		samples = append(samples, apitypes.Sample{InstanceUID: "agent-1", Name: "otelcol_process_cpu_seconds",
			Minute: t0.Add(time.Duration(i) * time.Minute), Value: 1})
	}
	require.NoError(t, env.store.PutSamples(t.Context(), samples))

	q := url.Values{"name": {"otelcol_processor_cost_meter_datapoints"}, "variant": {"candidate"},
		"from": {t0.Add(time.Minute).Format(time.RFC3339)}, "to": {t0.Add(3 * time.Minute).Format(time.RFC3339)}}
	got, _ := data[[]apitypes.Sample](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1/metrics?"+q.Encode(), nil))
	require.Len(t, got, 2)
	for i, s := range got {
		assert.Equal(t, "candidate", s.Variant)
		assert.Equal(t, t0.Add(time.Duration(i+1)*time.Minute), s.Minute)
	}

	all, _ := data[[]apitypes.Sample](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1/metrics", nil))
	assert.Len(t, all, len(samples))

	e := apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1/metrics?from=yesterday", nil), http.StatusBadRequest, apitypes.CodeBadRequest)
	assert.Contains(t, e.Message, "from")
	e = apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1/metrics?to=1", nil), http.StatusBadRequest, apitypes.CodeBadRequest)
	assert.Contains(t, e.Message, "to")
	apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-9/metrics", nil), http.StatusNotFound, apitypes.CodeNotFound)
}

// TestViewsHideSecrets replays the finding: an x-api-key given as a plain
// header parameter, and a password in an effective configuration, were
// shown to viewers.
func TestViewsHideSecrets(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1",
		EffectiveConfig: "extensions:\n  basicauth:\n    client_auth:\n      password: hunter2-plain\n"})
	_, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-1", Pipeline: "baseline",
		Parameters: map[string]any{"otlp_headers": map[string]any{"x-api-key": "k3y-plain", "x-team": "core"}},
		Config:     "exporters:\n  otlp_http:\n    headers:\n      x-api-key: k3y-plain\n"})
	require.NoError(t, err)

	r := env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1", nil, "Authorization", "Bearer "+viewerToken)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	for _, secret := range []string{"hunter2-plain", "k3y-plain"} {
		assert.NotContains(t, string(r.body), secret)
	}
	assert.Contains(t, string(r.body), "core", "what is not a secret is shown")
	r = env.do(t, http.MethodGet, apitypes.Prefix+"/agents", nil, "Authorization", "Bearer "+viewerToken)
	assert.NotContains(t, string(r.body), "k3y-plain")
}

func TestDeleteAgent(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	_, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-1", Config: validConfig})
	require.NoError(t, err)
	del := func(token string) response {
		return env.do(t, http.MethodDelete, apitypes.Prefix+"/agents/agent-1", nil, "Authorization", "Bearer "+token)
	}
	for _, token := range []string{viewerToken, operatorToken} {
		apiError(t, del(token), http.StatusForbidden, apitypes.CodeForbidden)
	}
	r := del(adminToken)
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	_, err = env.store.GetAgent(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = env.store.GetAssignment(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound, "its assignment goes with it")
	apiError(t, del(adminToken), http.StatusNotFound, apitypes.CodeNotFound)
}

// poisonedSamples is a store that returns non-finite samples, as one written
// before the store refused them could.
type poisonedSamples struct{ store.Store }

func (p poisonedSamples) QuerySamples(ctx context.Context, q store.SampleQuery) ([]apitypes.Sample, error) {
	got, err := p.Store.QuerySamples(ctx, q)
	m := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		got = append(got, apitypes.Sample{InstanceUID: q.InstanceUID, Name: "otelcol_process_cpu_seconds", Minute: m, Value: v})
	}
	return got, err
}

func TestAgentMetricsLeavesNonFiniteSamplesOut(t *testing.T) {
	env := newTestEnv(t, func(s *Settings) { s.Store = poisonedSamples{s.Store} })
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	m := time.Date(2025, 6, 1, 12, 1, 0, 0, time.UTC)
	require.NoError(t, env.store.PutSamples(t.Context(), []apitypes.Sample{
		{InstanceUID: "agent-1", Name: "otelcol_process_cpu_seconds", Minute: m, Value: 2}}))

	r := env.do(t, http.MethodGet, apitypes.Prefix+"/agents/agent-1/metrics", nil)
	require.True(t, json.Valid(r.body), "a complete JSON body, not an empty 200: %q", r.body)
	got, _ := data[[]apitypes.Sample](t, r)
	assert.Equal(t, []apitypes.Sample{{InstanceUID: "agent-1", Name: "otelcol_process_cpu_seconds", Minute: m, Value: 2}}, got)
}
