package catalog

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The control plane finds the variables a render names from the env_var
// markers, never from a list of parameter names kept beside the catalog.
func TestEnvVarParamsAreMarked(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	for _, p := range c.List() {
		var marked []string
		for _, q := range p.Params {
			if q.EnvVar {
				marked = append(marked, q.Name)
			}
		}
		assert.ElementsMatch(t, []string{"otlp_env_headers", "newrelic_license_key_env", "telemetry_token_env"}, marked, p.Name)
	}
}

func TestEnvUses(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	uses := c.EnvUses("topk", map[string]any{
		"otlp_env_headers":         map[string]any{"x-b": "B_KEY", "authorization": "OTLP_AUTH"},
		"newrelic_license_key_env": "NR_KEY",
		"telemetry_token_env":      "", // names nothing
		"otlp_headers":             map[string]any{"x-plain": "NOT_A_VARIABLE"},
		"k":                        5,
	})
	assert.Equal(t, []EnvUse{
		{Param: "newrelic_license_key_env", Name: "NR_KEY"},
		{Param: "otlp_env_headers", Key: "authorization", Name: "OTLP_AUTH"},
		{Param: "otlp_env_headers", Key: "x-b", Name: "B_KEY"},
	}, uses)

	r, err := c.Render(t.Context(), "baseline", map[string]any{"telemetry_endpoint": "http://127.0.0.1:8080/v1/metrics", "telemetry_token_env": "TOKEN"})
	require.NoError(t, err)
	assert.Equal(t, []EnvUse{{Param: "newrelic_license_key_env", Name: "NEW_RELIC_LICENSE_KEY"}, {Param: "telemetry_token_env", Name: "TOKEN"}},
		c.EnvUses("baseline", r.Params), "canonical parameters, defaults included")

	assert.Empty(t, c.EnvUses("baseline", map[string]any{"newrelic_license_key_env": "NOT A NAME"}), "a value rendering refuses")
	assert.Empty(t, c.EnvUses("nosuch", map[string]any{"newrelic_license_key_env": "K"}))
}
