package experiments

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// An admin gave a1 a header from a variable operators may not name. An
// experiment whose baseline is each agent's current assignment carries a1's
// collector parameters, and its own parameters could send that header to
// another endpoint: it may not deploy it.
func TestExperimentsCarryNoVariableOutsideTheAllowlist(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	test := map[string]string{"env": "test"}
	before := f.catalogAgent("a1", test, "baseline", map[string]any{"system_metrics": false,
		"destination": "otlp_http", "otlp_endpoint": "https://backend.example:4318",
		"otlp_env_headers": map[string]any{"authorization": "BACKEND_TOKEN"}})

	spec := validSpec(apitypes.ModePaired)
	spec.Baseline = apitypes.Variant{Current: true}
	spec.Parameters = map[string]any{"otlp_endpoint": "https://collector.attacker.example:4318"}
	x := f.deployed(spec)
	require.Equal(t, apitypes.ExperimentFailed, x.Status)
	assert.Contains(t, x.State.Error, "rendering for agent a1")
	assert.Contains(t, x.State.Error, "parameter otlp_env_headers names environment variable BACKEND_TOKEN")
	assert.Contains(t, x.State.Error, "agent_env_allowlist")
	assert.Equal(t, before.Generation, f.assigned("a1").Generation, "nothing was deployed")

	// A spec that names the variable itself was checked against its
	// creator's grants when it was created (by the API).
	spec.Name = "named by an admin"
	spec.Parameters["otlp_env_headers"] = map[string]any{"authorization": "BACKEND_TOKEN"}
	x = f.deployed(spec)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	assert.Contains(t, f.assigned("a1").Config, "${env:BACKEND_TOKEN}")
}
