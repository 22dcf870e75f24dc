package controlplane

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/testenv"
)

// phoenixCLI runs bin/phoenix against srv with the admin token.
func phoenixCLI(t *testing.T, srv *harness.Server, args ...string) string {
	t.Helper()
	args = append(args, "--server", srv.API, "--token", srv.AdminToken())
	out, err := exec.CommandContext(t.Context(), testenv.Binary(t, "phoenix"), args...).CombinedOutput()
	require.NoError(t, err, "phoenix %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

// TestInventorySurvivesRestartAndReconnects covers the agent inventory: a
// WebSocket and a polling agent register with health and effective config,
// show up in `phoenix agent list`, report their own telemetry, and keep their
// records and assignments across a server crash, reconnecting afterwards.
func TestInventorySurvivesRestartAndReconnects(t *testing.T) {
	ctx := t.Context()
	srv := harness.StartServer(t, harness.ServerOptions{})
	c := srv.Client()
	ws := harness.StartAgent(t, srv, harness.AgentOptions{Name: "ws", Labels: map[string]string{"env": "e2e"}})
	poll := harness.StartAgent(t, srv, harness.AgentOptions{Name: "poll", HTTP: true, Labels: map[string]string{"env": "e2e"}})

	// Both transports get their configuration: WebSocket at once, HTTP on
	// its next poll.
	for _, a := range []*harness.Agent{ws, poll} {
		out := filepath.Join(t.TempDir(), "out.jsonl")
		_, err := c.AssignAgent(ctx, a.UID, apitypes.AssignRequest{Config: fileConfig(srv, a, out, "")})
		require.NoError(t, err)
	}
	for _, a := range []*harness.Agent{ws, poll} {
		v := a.WaitFor(ctx, c, 90*time.Second, "applied and healthy", func(v apitypes.AgentView) bool {
			return v.Drift.State == apitypes.DriftInSync && v.Health != nil && v.Health.Healthy && v.EffectiveConfig != ""
		})
		assert.Contains(t, v.EffectiveConfig, "process_critical")
	}
	wsView, err := c.GetAgent(ctx, ws.UID)
	require.NoError(t, err)
	assert.Equal(t, apitypes.ConnectionWebSocket, wsView.ConnectionType)
	pollView, err := c.GetAgent(ctx, poll.UID)
	require.NoError(t, err)
	assert.Equal(t, apitypes.ConnectionHTTP, pollView.ConnectionType)

	// `phoenix agent list` shows them, filtered by label.
	var listed []apitypes.AgentView
	require.NoError(t, json.Unmarshal([]byte(phoenixCLI(t, srv, "agent", "list", "--selector", "env=e2e", "-o", "json")), &listed))
	require.Len(t, listed, 2)
	for _, a := range listed {
		assert.True(t, a.Online)
		require.NotNil(t, a.Health)
		assert.Equal(t, apitypes.DriftInSync, a.Drift.State)
	}
	table := phoenixCLI(t, srv, "agent", "list")
	assert.Contains(t, table, ws.UID)
	assert.Contains(t, table, "in_sync")
	assert.Contains(t, phoenixCLI(t, srv, "agent", "show", ws.UID), "Effective configuration")

	// Own telemetry arrives per agent, authenticated with the agent token
	// the configuration references from the environment.
	harness.Eventually(t, ctx, 120*time.Second, func() (bool, string) {
		samples, err := c.AgentMetrics(ctx, ws.UID, "otelcol_process_memory_rss", "", time.Time{}, time.Time{})
		if err != nil {
			return false, err.Error()
		}
		return len(samples) > 0 && samples[0].Value > 0, fmt.Sprintf("%d samples", len(samples))
	}, func() string { return srv.Log() + ws.Log() })

	// A crash: the inventory and assignments survive, agents reconnect.
	before, err := c.GetAgent(ctx, ws.UID)
	require.NoError(t, err)
	srv.Kill()
	srv.Restart()
	after, err := c.GetAgent(ctx, ws.UID)
	require.NoError(t, err)
	assert.Equal(t, before.FirstSeen, after.FirstSeen)
	require.NotNil(t, after.Assignment)
	assert.Equal(t, before.Assignment.ConfigHash, after.Assignment.ConfigHash)
	assert.Equal(t, before.Assignment.Generation, after.Assignment.Generation)
	for _, a := range []*harness.Agent{ws, poll} {
		a.WaitFor(ctx, c, 120*time.Second, "reconnected in sync", func(v apitypes.AgentView) bool {
			return v.Online && v.LastSeen.After(after.LastSeen) && v.Drift.State == apitypes.DriftInSync &&
				v.RemoteConfig.Status == apitypes.ConfigStatusApplied
		})
	}
}

// TestAuthRejectsMissingAndUnderprivilegedTokens covers 401 and 403 on the
// API and the OpAMP endpoint.
func TestAuthRejectsMissingAndUnderprivilegedTokens(t *testing.T) {
	ctx := t.Context()
	tokens := map[string]string{"admin": "admin-token-0123456789", "viewer": "viewer-token-0123456789",
		"enroll": "enroll-token-0123456789"}
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("tokens:\n")
	for role, tok := range tokens {
		fmt.Fprintf(&b, "  - name: %s\n    token_sha256: %s\n    roles: [%s]\n", role, sha(tok), role)
	}
	tokensFile := filepath.Join(dir, "tokens.yaml")
	require.NoError(t, os.WriteFile(tokensFile, []byte(b.String()), 0o600))
	srv := harness.StartServer(t, harness.ServerOptions{TokensFile: tokensFile, AdminToken: tokens["admin"], EnrollToken: tokens["enroll"]})

	_, _, err := apiclient.New(srv.API, "").ListAgents(ctx, apiclient.ListAgentsOptions{})
	assert.True(t, apiclient.IsStatus(err, 401), "no token: %v", err)
	_, _, err = apiclient.New(srv.API, "wrong-token-0123456789").ListAgents(ctx, apiclient.ListAgentsOptions{})
	assert.True(t, apiclient.IsStatus(err, 401), "wrong token: %v", err)
	_, _, err = apiclient.New(srv.API, tokens["enroll"]).ListAgents(ctx, apiclient.ListAgentsOptions{})
	assert.True(t, apiclient.IsStatus(err, 403), "enrollment token on the API: %v", err)

	viewer := apiclient.New(srv.API, tokens["viewer"])
	_, _, err = viewer.ListAgents(ctx, apiclient.ListAgentsOptions{})
	assert.NoError(t, err, "viewer may read")

	// A supervisor with a viewer token is refused; enrolled, it registers.
	refused := harness.StartAgent(t, srv, harness.AgentOptions{Name: "refused", Token: tokens["viewer"], NoWait: true})
	harness.Eventually(t, ctx, 30*time.Second, func() (bool, string) {
		return srv.Metric(`phoenix_opamp_errors_total{stage="auth"}`) >= 1, "no refused OpAMP connection yet"
	}, refused.Log)
	agent := harness.StartAgent(t, srv, harness.AgentOptions{Name: "accepted"})
	admin := apiclient.New(srv.API, tokens["admin"])
	agents, err := admin.AllAgents(ctx, apiclient.ListAgentsOptions{Selector: "phoenix.test.agent=refused"})
	require.NoError(t, err)
	assert.Empty(t, agents, "a supervisor without an agent credential must not register")
	refused.Stop()

	_, err = viewer.AssignAgent(ctx, agent.UID, apitypes.AssignRequest{Config: fileConfig(srv, agent, filepath.Join(dir, "o"), "")})
	assert.True(t, apiclient.IsStatus(err, 403), "viewer assigning: %v", err)
	v, err := admin.GetAgent(ctx, agent.UID)
	require.NoError(t, err)
	assert.Nil(t, v.Assignment, "a refused assignment must not be stored")

	// Tokens never show up in what the server says or logs.
	for _, tok := range tokens {
		assert.NotContains(t, srv.Log(), tok)
		assert.NotContains(t, v.EffectiveConfig, tok)
	}
}
