package controlplane

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// TestProgressiveAssignmentResumesAfterARestart starts a progressive
// assignment, restarts the server, and has the restarted server's scanner
// halt it when the first wave's agent fails to apply.
func TestProgressiveAssignmentResumesAfterARestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.NoAuth = true
	log := testLogger(t)
	first, err := New(t.Context(), cfg, log)
	require.NoError(t, err)
	require.NoError(t, first.Start(context.WithoutCancel(t.Context())))
	for _, uid := range []string{"a1", "a2"} {
		// Seen now: an agent last seen long ago is past the offline
		// retention, and a starting server removes it.
		require.NoError(t, first.Store().UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": "prod"},
			Health: &apitypes.Health{Healthy: true}, FirstSeen: time.Now(), LastSeen: time.Now()}))
	}
	c := newClient(t)
	status, header, body := c.do(http.MethodPost, first.APIURL()+apitypes.Prefix+"/assignments", "", "application/json",
		[]byte(`{"selector":"env=prod","pipeline":"topk-rollup","waves":[50,100]}`))
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	var started struct{ Data apitypes.AssignmentRollout }
	require.NoError(t, json.Unmarshal(body, &started))
	id := started.Data.ID
	assert.Equal(t, apitypes.Prefix+"/rollouts/"+id, header.Get("Location"))
	// The first wave is one of the two agents, whichever the plan drew.
	var waveAgent string
	var asg apitypes.Assignment
	for _, uid := range []string{"a1", "a2"} {
		if got, err := first.Store().GetAssignment(t.Context(), uid); err == nil {
			require.Empty(t, waveAgent, "one agent in the first wave of 50%")
			waveAgent, asg = uid, got
		}
	}
	require.NotEmpty(t, waveAgent, "the first wave goes out at once")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, first.Stop(ctx))

	second := startLoggedServer(t, cfg, log)
	a, err := second.Store().GetAgent(t.Context(), waveAgent)
	require.NoError(t, err)
	a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: asg.ConfigHash, Status: apitypes.ConfigStatusFailed, ErrorMessage: "bad"}
	a.FailedConfigHashes = []string{asg.ConfigHash}
	require.NoError(t, second.Store().UpsertAgent(t.Context(), a))

	var got struct{ Data apitypes.AssignmentRollout }
	require.Eventually(t, func() bool {
		status, body := c.get(second.APIURL()+apitypes.Prefix+"/rollouts/"+id, "")
		return status == http.StatusOK && json.Unmarshal([]byte(body), &got) == nil && got.Data.State == apitypes.RolloutHalted
	}, time.Minute, 100*time.Millisecond, "the restarted server steps the stored rollout (a scan every 5 s; -race and a busy machine slow it)")
	assert.Contains(t, got.Data.Reason, "agent "+waveAgent+" () could not apply the new configuration: bad")
	_, err = second.Store().GetAssignment(t.Context(), waveAgent)
	assert.Error(t, err, "it had no assignment: the halt removed the new one")
}
