package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

func TestAssignPipeline(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	body := map[string]any{"pipeline": "topk", "parameters": map[string]any{"memory_limit_mib": 256}, "reason": "rollout"}

	first, _ := data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", body))
	assert.Equal(t, "topk", first.Pipeline)
	assert.Equal(t, "rollout", first.Reason)
	assert.Equal(t, int64(1), first.Generation)
	assert.EqualValues(t, 256, first.Parameters["memory_limit_mib"])
	assert.Contains(t, first.Parameters, "collection_interval", "defaults are stored with the assignment")
	require.NotEmpty(t, first.Config)
	assert.Equal(t, store.HashConfig([]byte(first.Config)), first.ConfigHash)

	second, _ := data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", body))
	assert.Equal(t, int64(2), second.Generation, "every assignment is a new generation")
	assert.Equal(t, first.ConfigHash, second.ConfigHash, "rendering is deterministic")

	stored, err := env.store.GetAssignment(t.Context(), "agent-1")
	require.NoError(t, err)
	assert.Equal(t, second.Generation, stored.Generation)
	assert.Equal(t, second.Config, stored.Config)
	assert.Equal(t, []string{"agent-1", "agent-1"}, env.pusher.calls(), "each stored assignment is pushed")
}

func TestAssignVerbatimConfig(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	asg, _ := data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", map[string]any{"config": validConfig}))
	assert.Empty(t, asg.Pipeline)
	assert.Nil(t, asg.Parameters, "a verbatim configuration has no parameters, per-agent or other")
	assert.Equal(t, validConfig, asg.Config)
	assert.Equal(t, store.HashConfig([]byte(validConfig)), asg.ConfigHash)
}

func TestAssignSurvivesAFailedPush(t *testing.T) {
	env := newTestEnv(t)
	env.pusher.err = errors.New("agent not connected")
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	asg, _ := data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", map[string]any{"config": validConfig}))
	assert.Equal(t, int64(1), asg.Generation)
	_, err := env.store.GetAssignment(t.Context(), "agent-1")
	assert.NoError(t, err, "stored is what counts: the agent gets it on its next message")
}

func TestAgentParams(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1", Labels: map[string]string{
		apitypes.AgentParamLabelPrefix + "health_check_endpoint": "127.0.0.1:13999",
		apitypes.AgentParamLabelPrefix + "memory_limit_mib":      "96",
		apitypes.AgentParamLabelPrefix + "not_declared":          "dropped",
	}})
	body := map[string]any{"pipeline": "baseline", "parameters": map[string]any{"memory_limit_mib": 200}}
	asg, _ := data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", body))

	assert.Equal(t, "agent-1", asg.Parameters["instance_id"], "per-agent parameters the pipeline declares are added")
	assert.Equal(t, apitypes.AgentTokenEnv, asg.Parameters["telemetry_token_env"])
	assert.Equal(t, ownTelemetryURL, asg.Parameters["telemetry_endpoint"], "the server's own")
	assert.EqualValues(t, 200, asg.Parameters["memory_limit_mib"], "the caller's parameters")
	assert.Equal(t, "127.0.0.1:13999", asg.Parameters["health_check_endpoint"], "an agent's phoenix.param.* label sets an agent_settable parameter")
	assert.NotEqualValues(t, 96, asg.Parameters["memory_limit_mib"], "and no other, nor over the caller's")
	assert.NotContains(t, asg.Parameters, "not_declared", "parameters the pipeline does not declare are not added")

	// Rendering a pipeline on its own is for no agent: nothing is added.
	r, _ := data[apitypes.Rendered](t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/baseline/render", map[string]any{}))
	assert.Empty(t, r.Params["instance_id"])
}

func TestAssignRejectsBadRequests(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	tests := []struct {
		name    string
		uid     string
		body    any
		status  int
		code    apitypes.ErrorCode
		mention string
	}{
		{name: "both pipeline and config", body: map[string]any{"pipeline": "baseline", "config": validConfig},
			status: 400, code: apitypes.CodeBadRequest, mention: "exactly one of pipeline or config"},
		{name: "neither pipeline nor config", body: map[string]any{"reason": "x"},
			status: 400, code: apitypes.CodeBadRequest, mention: "exactly one of pipeline or config"},
		{name: "unknown field", body: `{"pipeline": "baseline", "params": {}}`,
			status: 400, code: apitypes.CodeBadRequest, mention: "params"},
		{name: "not JSON", body: `pipeline: baseline`, status: 400, code: apitypes.CodeBadRequest, mention: "request body"},
		{name: "two JSON objects", body: `{"pipeline": "baseline"} {"config": "x"}`,
			status: 400, code: apitypes.CodeBadRequest, mention: "after the JSON value"},
		{name: "trailing garbage", body: `{"pipeline": "baseline"}}`,
			status: 400, code: apitypes.CodeBadRequest, mention: "after the JSON value"},
		{name: "empty body", body: ``, status: 400, code: apitypes.CodeBadRequest, mention: "request body"},
		{name: "unknown agent", uid: "agent-9", body: map[string]any{"pipeline": "baseline"},
			status: 404, code: apitypes.CodeNotFound, mention: "agent"},
		{name: "unknown pipeline", body: map[string]any{"pipeline": "no-such-pipeline"},
			status: 404, code: apitypes.CodeNotFound, mention: "no-such-pipeline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uid := tt.uid
			if uid == "" {
				uid = "agent-1"
			}
			e := apiError(t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/"+uid+"/config", tt.body), tt.status, tt.code)
			assert.Contains(t, e.Message, tt.mention)
		})
	}
	_, err := env.store.GetAssignment(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.Empty(t, env.pusher.calls())
}

func TestAssignRefusesInvalidConfiguration(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})

	e := apiError(t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", map[string]any{"config": invalidConfig}),
		http.StatusUnprocessableEntity, apitypes.CodeInvalid)
	assert.Contains(t, e.Message, "nothing was stored")
	problems := details(e)
	require.NotEmpty(t, problems)
	var paths []string
	for _, p := range problems {
		assert.NotEmpty(t, p["message"])
		if path, _ := p["path"].(string); path != "" {
			paths = append(paths, path)
		}
	}
	assert.Contains(t, paths, "service::pipelines::metrics", "the dangling processor reference")
	assert.Contains(t, paths, "processors::process_critical::rules::0", "the bad rule")

	_, err := env.store.GetAssignment(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing is stored")
	assert.Empty(t, env.pusher.calls(), "nothing is sent")
	assert.InDelta(t, 1, counterValue(t, env, "phoenix_config_rejected_total"), 0)
}

func TestAssignRefusesInvalidParameters(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	body := map[string]any{"pipeline": "baseline", "parameters": map[string]any{"memory_limit_mib": 1, "colour": "red"}}

	e := apiError(t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", body), http.StatusBadRequest, apitypes.CodeInvalidParameters)
	named := map[string]bool{}
	for _, p := range details(e) {
		named[p["param"].(string)] = true
		assert.NotEmpty(t, p["message"])
	}
	assert.Equal(t, map[string]bool{"memory_limit_mib": true, "colour": true}, named)
	_, err := env.store.GetAssignment(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestUnassign(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	_, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-1", Config: validConfig})
	require.NoError(t, err)

	resp := env.do(t, http.MethodDelete, apitypes.Prefix+"/agents/agent-1/config", nil)
	assert.Equal(t, http.StatusNoContent, resp.status)
	assert.Empty(t, resp.body)
	_, err = env.store.GetAssignment(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound)

	resp = env.do(t, http.MethodDelete, apitypes.Prefix+"/agents/agent-1/config", nil)
	assert.Equal(t, http.StatusNoContent, resp.status, "unassigning twice is not an error")
}

func TestAssignMany(t *testing.T) {
	env := newTestEnv(t)
	agents := seedFleet(t, env.store)
	body := map[string]any{"pipeline": "baseline", "selector": "env=prod,host.name=~web-.*"}

	results, _ := data[[]apitypes.AssignResult](t, env.do(t, http.MethodPost, apitypes.Prefix+"/assignments", body))
	var want []string
	for _, a := range agents {
		if a.Labels["env"] == "prod" && a.Labels["host.name"][:3] == "web" {
			want = append(want, a.InstanceUID)
		}
	}
	require.Len(t, results, len(want))
	for i, r := range results {
		assert.Equal(t, want[i], r.InstanceUID)
		assert.Equal(t, int64(1), r.Generation)
		stored, err := env.store.GetAssignment(t.Context(), r.InstanceUID)
		require.NoError(t, err)
		assert.Equal(t, r.ConfigHash, stored.ConfigHash)
		assert.Equal(t, "baseline", stored.Pipeline)
	}
	assert.Equal(t, want, env.pusher.calls())
	_, err := env.store.GetAssignment(t.Context(), "agent-01")
	assert.ErrorIs(t, err, store.ErrNotFound, "agents the selector does not match are left alone")
}

func TestAssignManyIsAllOrNothing(t *testing.T) {
	// agent-2's own parameters make its configuration invalid.
	env := newTestEnv(t)
	for _, uid := range []string{"agent-1", "agent-2", "agent-3"} {
		labels := map[string]string{"env": "prod"}
		if uid == "agent-2" {
			labels[apitypes.AgentParamLabelPrefix+"health_check_endpoint"] = "no-port"
		}
		putAgent(t, env.store, apitypes.Agent{InstanceUID: uid, Labels: labels})
	}
	e := apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/assignments", map[string]any{"pipeline": "baseline", "selector": "env=prod"}),
		http.StatusBadRequest, apitypes.CodeInvalidParameters)
	require.Len(t, details(e), 1)
	assert.Equal(t, "health_check_endpoint", details(e)[0]["param"])
	for _, uid := range []string{"agent-1", "agent-2", "agent-3"} {
		_, err := env.store.GetAssignment(t.Context(), uid)
		assert.ErrorIs(t, err, store.ErrNotFound, "%s: nothing is stored when any agent's configuration is refused", uid)
	}
	assert.Empty(t, env.pusher.calls())
}

func TestAssignManyRejectsBadRequests(t *testing.T) {
	env := newTestEnv(t)
	seedFleet(t, env.store)
	tests := []struct {
		name    string
		body    any
		status  int
		code    apitypes.ErrorCode
		mention string
	}{
		{name: "no selector", body: map[string]any{"pipeline": "baseline"}, status: 400, code: apitypes.CodeBadRequest, mention: "selector is required"},
		{name: "blank selector", body: map[string]any{"pipeline": "baseline", "selector": "  "}, status: 400, code: apitypes.CodeBadRequest, mention: "selector is required"},
		{name: "bad selector", body: map[string]any{"pipeline": "baseline", "selector": "env"}, status: 400, code: apitypes.CodeBadRequest, mention: "env"},
		{name: "unknown field", body: `{"pipeline": "baseline", "selector": "env=prod", "agents": []}`, status: 400, code: apitypes.CodeBadRequest, mention: "agents"},
		{name: "no match", body: map[string]any{"pipeline": "baseline", "selector": "env=dev"}, status: 404, code: apitypes.CodeNotFound, mention: "env=dev"},
		{name: "both pipeline and config", body: map[string]any{"pipeline": "baseline", "config": validConfig, "selector": "env=prod"},
			status: 400, code: apitypes.CodeBadRequest, mention: "exactly one"},
		{name: "invalid config", body: map[string]any{"config": invalidConfig, "selector": "env=prod"},
			status: 422, code: apitypes.CodeInvalid, mention: "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/assignments", tt.body), tt.status, tt.code)
			assert.Contains(t, e.Message, tt.mention)
		})
	}
	assert.Empty(t, env.pusher.calls())
}

func TestPipelines(t *testing.T) {
	env := newTestEnv(t)
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)

	list, _ := data[[]catalog.Pipeline](t, env.do(t, http.MethodGet, apitypes.Prefix+"/pipelines", nil))
	var want, got []string
	for _, p := range cat.List() {
		want = append(want, p.Name+" "+p.Version)
	}
	for _, p := range list {
		got = append(got, p.Name+" "+p.Version)
	}
	assert.Equal(t, want, got)

	p, _ := data[catalog.Pipeline](t, env.do(t, http.MethodGet, apitypes.Prefix+"/pipelines/topk", nil))
	assert.Equal(t, "topk", p.Name)
	assert.NotEmpty(t, p.Params)
	e := apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/pipelines/nope", nil), http.StatusNotFound, apitypes.CodeNotFound)
	assert.Contains(t, e.Message, "nope")
}

func TestRenderPipeline(t *testing.T) {
	env := newTestEnv(t)
	r, _ := data[apitypes.Rendered](t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/baseline/render",
		map[string]any{"parameters": map[string]any{"collection_interval": "1m"}}))
	assert.Equal(t, "baseline", r.Pipeline)
	assert.NotEmpty(t, r.Version)
	assert.Equal(t, "1m0s", r.Params["collection_interval"], "parameters come back canonical")
	assert.Equal(t, store.HashConfig([]byte(r.Config)), r.Hash)

	e := apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/baseline/render",
		map[string]any{"parameters": map[string]any{"collection_interval": "forever"}}), http.StatusBadRequest, apitypes.CodeInvalidParameters)
	require.Len(t, details(e), 1)
	assert.Equal(t, "collection_interval", details(e)[0]["param"])

	resp := env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/baseline/render", "{\"parameters\": {}}\n\n")
	assert.Equal(t, http.StatusOK, resp.status, "whitespace after the body is fine: %s", resp.body)
	apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/nope/render", map[string]any{}), http.StatusNotFound, apitypes.CodeNotFound)
	apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/baseline/render", `{"params": {}}`), http.StatusBadRequest, apitypes.CodeBadRequest)
}

func TestValidateConfig(t *testing.T) {
	env := newTestEnv(t)
	got, _ := data[map[string]any](t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate", map[string]any{"config": validConfig}))
	assert.Equal(t, map[string]any{"valid": true, "config_hash": store.HashConfig([]byte(validConfig))}, got)

	e := apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate", map[string]any{"config": invalidConfig}),
		http.StatusUnprocessableEntity, apitypes.CodeInvalid)
	assert.NotEmpty(t, details(e))
	e = apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate", map[string]any{"config": ""}),
		http.StatusUnprocessableEntity, apitypes.CodeInvalid)
	assert.Equal(t, "configuration is empty", details(e)[0]["message"])
	apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate", `{"config": 1}`), http.StatusBadRequest, apitypes.CodeBadRequest)
	assert.InDelta(t, 2, counterValue(t, env, "phoenix_config_rejected_total"), 0)
}

func counterValue(t *testing.T, env *testEnv, name string) float64 {
	t.Helper()
	families, err := env.metrics.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestPipelineViewLosesNothing holds the API's pipeline type to the
// catalog's: every field the catalog describes reaches clients unchanged.
func TestPipelineViewLosesNothing(t *testing.T) {
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	require.NotEmpty(t, cat.List())
	for _, p := range cat.List() {
		want, err := json.Marshal(p)
		require.NoError(t, err)
		got, err := json.Marshal(pipelineView(p))
		require.NoError(t, err)
		assert.JSONEq(t, string(want), string(got), p.Name)
	}
}
