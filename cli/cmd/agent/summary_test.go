package agent

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestSummaryTable(t *testing.T) {
	t.Parallel()
	srv := seeded(t)
	// agent-3 takes the verbatim configuration agent-2 failed and runs it.
	asg, err := srv.Store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-3", Config: "receivers: {otlp: {}}\n"})
	require.NoError(t, err)
	a, err := srv.Store.GetAgent(t.Context(), "agent-3")
	require.NoError(t, err)
	a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: asg.ConfigHash, Status: apitypes.ConfigStatusApplied}
	require.NoError(t, srv.Store.UpsertAgent(t.Context(), a))

	out, _, err := srv.Run(t, NewCmd, "summary")
	require.NoError(t, err)
	assert.Equal(t, `Agents:     3 (1 online)
Health:     1 healthy, 1 unhealthy, 1 not reported
Progress:   pending 2, applied 1
Pipelines:  (verbatim) 2, baseline 1
`, out)

	out, _, err = srv.Run(t, NewCmd, "summary", "-l", "env=staging", "--online")
	require.NoError(t, err)
	assert.Equal(t, `Agents:     0 (0 online)
Health:     0 healthy, 0 unhealthy, 0 not reported
Progress:   -
Pipelines:  -
`, out)
}

func TestSummaryStructured(t *testing.T) {
	t.Parallel()
	srv := seeded(t)
	out, _, err := srv.Run(t, NewCmd, "summary", "-o", "json", "--selector", "env=prod")
	require.NoError(t, err)
	var sum apitypes.AgentSummary
	require.NoError(t, json.Unmarshal([]byte(out), &sum))
	assert.Equal(t, apitypes.AgentSummary{Total: 2, Online: 1, Healthy: 1, Unhealthy: 1,
		Progress:  map[apitypes.DriftState]int{apitypes.DriftPending: 2},
		Pipelines: map[string]int{"": 1, "baseline": 1}}, sum)

	_, _, err = srv.Run(t, NewCmd, "summary", "-l", "=x")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "counting agents")
}
