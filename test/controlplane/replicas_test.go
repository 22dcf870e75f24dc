package controlplane

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/pgtest"
)

// TestReplicasShareStateThroughPostgres runs two server replicas on one
// PostgreSQL database: an agent connected to the first receives, at once, a
// configuration assigned through the second (LISTEN/NOTIFY), and both
// replicas show the same inventory.
func TestReplicasShareStateThroughPostgres(t *testing.T) {
	ctx := t.Context()
	dsn := pgtest.Start(t)
	admin, enroll := "replica-admin-token-0123", "replica-enroll-token-0123"
	tokensFile := writeTokens(t, admin, enroll)
	opts := func(id string) harness.ServerOptions {
		return harness.ServerOptions{Store: dsn, TokensFile: tokensFile, AdminToken: admin, EnrollToken: enroll, ServerID: id}
	}
	a := harness.StartServer(t, opts("replica-a"))
	b := harness.StartServer(t, opts("replica-b"))

	agent := harness.StartAgent(t, a, harness.AgentOptions{Name: "replicated"})
	viaB := b.Client()
	seen, err := viaB.GetAgent(ctx, agent.UID)
	require.NoError(t, err, "replica b must see an agent connected to replica a")
	assert.Equal(t, "replica-a", seen.ServerID)

	out := filepath.Join(t.TempDir(), "out.jsonl")
	asg, err := viaB.AssignAgent(ctx, agent.UID, apitypes.AssignRequest{Config: fileConfig(a, agent, out, ""), Reason: "via replica b"})
	require.NoError(t, err)
	agent.WaitFor(ctx, viaB, 60*time.Second, "applied through the other replica", func(v apitypes.AgentView) bool {
		return v.RemoteConfig.Hash == asg.ConfigHash && v.RemoteConfig.Status == apitypes.ConfigStatusApplied
	})

	agents, err := apiclient.New(a.API, admin).AllAgents(ctx, apiclient.ListAgentsOptions{})
	require.NoError(t, err)
	require.Len(t, agents, 1)
	assert.Equal(t, "via replica b", agents[0].Assignment.Reason)
}
