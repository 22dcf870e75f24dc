package controlplane

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
)

const operatorToken = "operator-token-00000000000000"

// agent_env_allowlist reaches the assignment service: an operator may name
// the variables it allows, and no other.
func TestAgentEnvAllowlistIsEnforced(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.AgentEnvAllowlist = []string{"DD_*"}
	cfg.TokensFile = writeTokens(t, map[string]auth.Role{operatorToken: auth.RoleOperator})
	s := startServer(t, cfg)
	// Seen now: the retention loop removes agents offline for too long.
	now := time.Now()
	require.NoError(t, s.Store().UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1", FirstSeen: now, LastSeen: now}))
	c := newClient(t)

	assign := func(variable string) (int, []byte) {
		body, err := json.Marshal(map[string]any{"pipeline": "baseline", "parameters": map[string]any{
			"destination": "otlp_http", "otlp_endpoint": "https://otlp.example.com:4318",
			"otlp_env_headers": map[string]any{"x-api-key": variable},
		}})
		require.NoError(t, err)
		status, _, raw := c.do(http.MethodPut, s.APIURL()+apitypes.Prefix+"/agents/a1/config", operatorToken, "application/json", body)
		return status, raw
	}
	status, raw := assign("DD_API_KEY")
	assert.Equal(t, http.StatusOK, status, "%s", raw)
	status, raw = assign("OTLP_AUTH")
	assert.Equal(t, http.StatusForbidden, status, "not in this server's list: %s", raw)
	assert.Contains(t, string(raw), "OTLP_AUTH")
}
