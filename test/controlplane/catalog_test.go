package controlplane

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
)

// TestCatalogPipelineRunsAndInvalidRenderIsRefused assigns the recommended
// pipeline from the catalog, rendered for the agent, and checks the collector
// runs it and reports its cost figures; then a render with a bad parameter is
// refused before anything is stored or sent.
func TestCatalogPipelineRunsAndInvalidRenderIsRefused(t *testing.T) {
	ctx := t.Context()
	srv := harness.StartServer(t, harness.ServerOptions{})
	c := srv.Client()
	agent := harness.StartAgent(t, srv, harness.AgentOptions{Name: "catalog"})

	asg, err := c.AssignAgent(ctx, agent.UID, apitypes.AssignRequest{Pipeline: "topk-rollup",
		Parameters: map[string]any{"collection_interval": "2s", "system_metrics": false}})
	require.NoError(t, err)
	assert.Equal(t, "topk-rollup", asg.Pipeline)
	assert.Equal(t, agent.UID, asg.Parameters["instance_id"], "the server renders per agent")
	assert.NotContains(t, asg.Config, agent.Token(), "tokens are referenced from the environment, never inlined")
	assert.Contains(t, asg.Config, "${env:PHOENIX_AGENT_TOKEN}")

	v := agent.WaitFor(ctx, c, 90*time.Second, "topk-rollup applied", func(v apitypes.AgentView) bool {
		return v.RemoteConfig.Hash == asg.ConfigHash && v.RemoteConfig.Status == apitypes.ConfigStatusApplied &&
			v.Drift.State == apitypes.DriftInSync
	})
	assert.Contains(t, v.EffectiveConfig, "process_rollup")

	// cost_meter's figures reach the server as own telemetry, per variant.
	harness.Eventually(t, ctx, 90*time.Second, func() (bool, string) {
		samples, err := c.AgentMetrics(ctx, agent.UID, "otelcol_processor_cost_meter_datapoints", "", time.Time{}, time.Time{})
		if err != nil {
			return false, err.Error()
		}
		for _, s := range samples {
			if s.Variant != "" && s.Value > 0 {
				return true, ""
			}
		}
		return false, "no cost_meter datapoints yet"
	}, func() string { return srv.Log() + agent.Log() })

	// A bad parameter: refused with the parameter named; nothing changes.
	_, err = c.AssignAgent(ctx, agent.UID, apitypes.AssignRequest{Pipeline: "topk-rollup", Parameters: map[string]any{"k": 0}})
	require.Error(t, err)
	var apiErr *apiclient.Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 400, apiErr.Status)
	assert.Equal(t, apitypes.CodeInvalidParameters, apiErr.Code)
	assert.Contains(t, apiErr.Error(), `"k"`)

	// A verbatim configuration the distribution rejects: 422 with paths.
	_, err = c.AssignAgent(ctx, agent.UID, apitypes.AssignRequest{Config: "receivers: {nope: {}}\nexporters: {nop: {}}\nservice: {pipelines: {metrics: {receivers: [nope], exporters: [nop]}}}\n"})
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 422, apiErr.Status)
	assert.Contains(t, apiErr.Error(), "receivers::nope")

	after, err := c.GetAgent(ctx, agent.UID)
	require.NoError(t, err)
	require.NotNil(t, after.Assignment)
	assert.Equal(t, asg.ConfigHash, after.Assignment.ConfigHash, "a refused render must not replace the assignment")
	assert.Equal(t, asg.Generation, after.Assignment.Generation)
	assert.Equal(t, asg.ConfigHash, after.RemoteConfig.Hash, "nothing new was sent to the agent")
	assert.GreaterOrEqual(t, srv.Metric("phoenix_config_rejected_total"), 2.0)
}
