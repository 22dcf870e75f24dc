package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

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

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Authorization: Bearer abcdefgh12345678", "Authorization: Bearer <redacted>"},
		{"authorization: bearer abc.def_ghi-jkl~mno+p/q=", "authorization: bearer <redacted>"},
		{"Authorization: BEARER   0123456789abcdef\nnext: line", "Authorization: BEARER   <redacted>\nnext: line"},
		{`headers: {Authorization: "Bearer ${env:PHOENIX_AGENT_TOKEN}"}`, `headers: {Authorization: "Bearer ${env:PHOENIX_AGENT_TOKEN}"}`},
		{"Bearer short", "Bearer short"},
		{"receivers: {nop: {}}", "receivers: {nop: {}}"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, redact(tt.in), tt.in)
	}
}

const (
	assignedConfig = `extensions:
  health_check: {}
receivers:
  host_metrics: {}
  otlp: {}
processors:
  process_critical: {}
  process_topk: {}
exporters:
  nop: {}
service:
  extensions: [health_check]
  pipelines:
    metrics:
      receivers: [host_metrics, otlp]
      processors: [process_critical, process_topk]
      exporters: [nop]
`
	// sameShape is what a collector reports for assignedConfig: defaults
	// filled in, keys reordered, the supervisor's opamp extension added.
	sameShape = `receivers:
  otlp:
    protocols: {grpc: {endpoint: "localhost:4317"}}
  host_metrics:
    collection_interval: 1m
processors:
  process_topk: {k: 10}
  process_critical: {rules: []}
exporters:
  nop: null
extensions:
  opamp: {server: {ws: {endpoint: "ws://127.0.0.1:4320/v1/opamp"}}}
  health_check: {endpoint: "127.0.0.1:13133"}
service:
  extensions: [opamp, health_check]
  telemetry: {metrics: {level: detailed}}
  pipelines:
    metrics:
      receivers: [otlp, host_metrics]
      processors: [process_critical, process_topk]
      exporters: [nop]
`
	// otherShape swaps the processors' order, drops the health check and a
	// receiver, and adds an exporter.
	otherShape = `receivers:
  host_metrics: {}
processors:
  process_critical: {}
  process_topk: {}
exporters:
  nop: {}
  debug: {}
service:
  extensions: [opamp]
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_topk, process_critical]
      exporters: [nop, debug]
`
)

func TestComputeDrift(t *testing.T) {
	hash := store.HashConfig([]byte(assignedConfig))
	asg := &apitypes.Assignment{Config: assignedConfig, ConfigHash: hash}
	applied := apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusApplied}
	tests := []struct {
		name  string
		agent apitypes.Agent
		asg   *apitypes.Assignment
		want  apitypes.Drift
	}{
		{name: "nothing assigned", agent: apitypes.Agent{EffectiveConfig: sameShape}, want: apitypes.Drift{State: apitypes.DriftUnassigned}},
		{name: "agent has not received it", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: "older", Status: apitypes.ConfigStatusApplied}},
			want:  apitypes.Drift{State: apitypes.DriftPending}},
		{name: "agent is applying it", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusApplying}},
			want:  apitypes.Drift{State: apitypes.DriftApplying}},
		{name: "agent failed to apply it", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusFailed, ErrorMessage: "bad"}},
			want:  apitypes.Drift{State: apitypes.DriftFailed, Message: "bad"}},
		{name: "agent failed it before and rolled back", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: "older", Status: apitypes.ConfigStatusApplied},
				FailedConfigHashes: []string{"x", hash}},
			want: apitypes.Drift{State: apitypes.DriftFailed}},
		{name: "apply timed out and rolled back: a retry is planned", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: "older", Status: apitypes.ConfigStatusApplied},
				ApplyRetry: &apitypes.ApplyRetry{Hash: hash, Attempts: 1, Limit: 3, NextAt: time.Date(2026, 12, 1, 12, 0, 15, 0, time.UTC)}},
			want: apitypes.Drift{State: apitypes.DriftRetrying, Message: "the collector was not healthy within the supervisor's apply timeout (1 of 3); sending it again at 2026-12-01T12:00:15Z"}},
		{name: "the re-sent copy is being applied", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusApplying},
				ApplyRetry: &apitypes.ApplyRetry{Hash: hash, Attempts: 1, Limit: 3}},
			want: apitypes.Drift{State: apitypes.DriftApplying}},
		{name: "applied with the same structure", asg: asg, agent: apitypes.Agent{RemoteConfig: applied, EffectiveConfig: sameShape},
			want: apitypes.Drift{State: apitypes.DriftInSync}},
		{name: "applied but running something else", asg: asg, agent: apitypes.Agent{RemoteConfig: applied, EffectiveConfig: otherShape},
			want: apitypes.Drift{State: apitypes.DriftDrifted, Sections: []string{"receivers", "exporters", "service.extensions", "service.pipelines"}}},
		{name: "applied, effective config not reported", asg: asg, agent: apitypes.Agent{RemoteConfig: applied},
			want: apitypes.Drift{State: apitypes.DriftDrifted, Message: "effective configuration unreadable or not reported"}},
		{name: "applied, effective config unreadable", asg: asg, agent: apitypes.Agent{RemoteConfig: applied, EffectiveConfig: "receivers: ["},
			want: apitypes.Drift{State: apitypes.DriftDrifted, Message: "effective configuration unreadable or not reported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, computeDrift(tt.agent, tt.asg))
		})
	}

	bad := &apitypes.Assignment{Config: "receivers: [", ConfigHash: "h"}
	got := computeDrift(apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: "h", Status: apitypes.ConfigStatusApplied}}, bad)
	assert.Equal(t, apitypes.DriftDrifted, got.State)
	assert.Contains(t, got.Message, "assigned configuration unreadable")
}

func TestDriftSections(t *testing.T) {
	var want configShape
	require.NoError(t, yaml.Unmarshal([]byte(assignedConfig), &want))
	tests := []struct {
		name   string
		edit   func(*configShape)
		differ []string
	}{
		{name: "identical"},
		{name: "processor order", differ: []string{"service.pipelines"}, edit: func(c *configShape) {
			p := c.Service.Pipelines["metrics"]
			slices.Reverse(p.Processors)
			c.Service.Pipelines["metrics"] = p
		}},
		{name: "receiver order is not drift", edit: func(c *configShape) {
			p := c.Service.Pipelines["metrics"]
			slices.Reverse(p.Receivers)
			c.Service.Pipelines["metrics"] = p
		}},
		{name: "extra pipeline", differ: []string{"service.pipelines"}, edit: func(c *configShape) {
			c.Service.Pipelines["metrics/system"] = pipelineShape{Receivers: []string{"host_metrics"}, Exporters: []string{"nop"}}
		}},
		{name: "extra connector", differ: []string{"connectors"}, edit: func(c *configShape) {
			c.Connectors = map[string]any{"forward": nil}
		}},
		{name: "extra extension is the supervisor's", edit: func(c *configShape) {
			c.Service.Extensions = append(c.Service.Extensions, "opamp")
		}},
		{name: "processor removed", differ: []string{"processors"}, edit: func(c *configShape) {
			delete(c.Processors, "process_topk")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got configShape
			require.NoError(t, yaml.Unmarshal([]byte(assignedConfig), &got))
			if tt.edit != nil {
				tt.edit(&got)
			}
			assert.Equal(t, tt.differ, want.diff(got))
		})
	}
}
