package config

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/store"
)

// newServer serves the real REST API to an operator, with three agents.
func newServer(t *testing.T) *clitest.Server {
	t.Helper()
	srv := clitest.NewServer(t, auth.RoleOperator)
	for uid, env := range map[string]string{"agent-1": "prod", "agent-2": "prod", "agent-3": "staging"} {
		require.NoError(t, srv.Store.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": env}}))
	}
	return srv
}

func TestAssignFlagValidation(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cfgFile := clitest.WriteFile(t, "collector.yaml", clitest.CollectorConfig)
	paramsFile := clitest.WriteFile(t, "params.yaml", "memory_limit_mib: 256\n")

	tests := []struct {
		name    string
		args    []string
		mention string
	}{
		{name: "no target", args: []string{"--pipeline", "baseline"}, mention: "exactly one of --agent or --selector"},
		{name: "two targets", args: []string{"--agent", "agent-1", "--selector", "env=prod", "--pipeline", "baseline"},
			mention: "exactly one of --agent or --selector"},
		{name: "no configuration", args: []string{"--agent", "agent-1"}, mention: "exactly one of --pipeline or --file"},
		{name: "two configurations", args: []string{"--agent", "agent-1", "--pipeline", "baseline", "--file", cfgFile},
			mention: "exactly one of --pipeline or --file"},
		{name: "param with file", args: []string{"--agent", "agent-1", "--file", cfgFile, "--param", "k=1"},
			mention: "--param and --params-file apply to --pipeline only"},
		{name: "params file with file", args: []string{"--agent", "agent-1", "--file", cfgFile, "--params-file", paramsFile},
			mention: "--param and --params-file apply to --pipeline only"},
		{name: "malformed param", args: []string{"--agent", "agent-1", "--pipeline", "baseline", "--param", "k"},
			mention: "want key=value"},
		{name: "missing file", args: []string{"--agent", "agent-1", "--file", filepath.Join(t.TempDir(), "missing.yaml")},
			mention: "missing.yaml"},
		{name: "unknown format", args: []string{"--agent", "agent-1", "--pipeline", "baseline", "-o", "csv"},
			mention: "unknown output format"},
		{name: "positional argument", args: []string{"agent-1", "--pipeline", "baseline"}, mention: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := srv.Run(t, NewCmd, append([]string{"assign"}, tt.args...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.mention)
		})
	}
	for _, uid := range []string{"agent-1", "agent-2", "agent-3"} {
		_, err := srv.Store.GetAssignment(t.Context(), uid)
		assert.ErrorIs(t, err, store.ErrNotFound, "refused flags assign nothing")
	}
}

func TestAssignOneAgent(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	out, errOut, err := srv.Run(t, NewCmd, "assign", "--agent", "agent-1", "--pipeline", "baseline",
		"--param", "memory_limit_mib=256", "-p", "system_metrics=false", "--reason", "trial")
	require.NoError(t, err)

	asg, err := srv.Store.GetAssignment(t.Context(), "agent-1")
	require.NoError(t, err)
	assert.Equal(t, "baseline", asg.Pipeline)
	assert.Equal(t, "trial", asg.Reason)
	assert.EqualValues(t, 256, asg.Parameters["memory_limit_mib"], "--param values are typed")
	assert.Equal(t, false, asg.Parameters["system_metrics"])

	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 2)
	assert.Equal(t, []string{"INSTANCE", "UID", "CONFIG", "HASH", "GENERATION"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"agent-1", asg.ConfigHash[:12], "1"}, strings.Fields(lines[1]))
	assert.Equal(t, "assigned to 1 agent(s); follow with: phoenix agent list\n", errOut)
}

func TestAssignFile(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	cfgFile := clitest.WriteFile(t, "collector.yaml", clitest.CollectorConfig)
	out, _, err := srv.Run(t, NewCmd, "assign", "--agent", "agent-2", "-f", cfgFile, "-o", "json")
	require.NoError(t, err)
	var results []apitypes.AssignResult
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	assert.Equal(t, []apitypes.AssignResult{{InstanceUID: "agent-2", ConfigHash: store.HashConfig([]byte(clitest.CollectorConfig)), Generation: 1}}, results)

	asg, err := srv.Store.GetAssignment(t.Context(), "agent-2")
	require.NoError(t, err)
	assert.Equal(t, clitest.CollectorConfig, asg.Config)
	assert.Equal(t, "assigned by otto", asg.Reason)
}

func TestAssignSelector(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	out, errOut, err := srv.Run(t, NewCmd, "assign", "-l", "env=prod", "--pipeline", "baseline", "-o", "yaml")
	require.NoError(t, err)
	var results []map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(out), &results))
	require.Len(t, results, 2)
	for i, uid := range []string{"agent-1", "agent-2"} {
		assert.Equal(t, uid, results[i]["instance_uid"])
		assert.Equal(t, 1, results[i]["generation"])
	}
	assert.Empty(t, errOut, "structured output only")
	_, err = srv.Store.GetAssignment(t.Context(), "agent-3")
	assert.ErrorIs(t, err, store.ErrNotFound)

	_, _, err = srv.Run(t, NewCmd, "assign", "-l", "env=dev", "--pipeline", "baseline")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "assigning to env=dev")
	assert.Contains(t, err.Error(), "HTTP 404")
}

func TestAssignRefused(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	bad := clitest.WriteFile(t, "bad.yaml", strings.Replace(clitest.CollectorConfig, "exporters: [nop]", "exporters: [debug]", 1))
	_, _, err := srv.Run(t, NewCmd, "assign", "--agent", "agent-1", "--file", bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "assigning to agent-1")
	assert.Contains(t, err.Error(), "HTTP 422")
	assert.Contains(t, err.Error(), "\n  service::pipelines::metrics: ", "every problem with its path")
	_, err = srv.Store.GetAssignment(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// The server and token can come from the environment instead of flags: an
// operator token in a token file, then none at all.
func TestAssignWithTheEnvironmentsServerAndToken(t *testing.T) {
	srv := newServer(t)
	tokenFile := clitest.WriteFile(t, "operator.token", srv.Token+"\n")
	t.Setenv("HOME", t.TempDir())
	t.Setenv(cmdutil.EnvServer, srv.URL)
	t.Setenv(cmdutil.EnvToken, "")
	t.Setenv(cmdutil.EnvTokenFile, tokenFile)
	_, errOut, err := clitest.Run(t, NewCmd, "assign", "--agent", "agent-1", "--pipeline", "baseline")
	require.NoError(t, err)
	assert.Equal(t, "assigned to 1 agent(s); follow with: phoenix agent list\n", errOut)

	t.Setenv(cmdutil.EnvTokenFile, "")
	_, _, err = clitest.Run(t, NewCmd, "assign", "--agent", "agent-3", "--pipeline", "baseline")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 401", "no token")
	_, err = srv.Store.GetAssignment(t.Context(), "agent-3")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestUnassign(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	_, err := srv.Store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-1", Config: clitest.CollectorConfig})
	require.NoError(t, err)
	out, _, err := srv.Run(t, NewCmd, "unassign", "agent-1")
	require.NoError(t, err)
	assert.Equal(t, "unassigned agent-1\n", out)
	_, err = srv.Store.GetAssignment(t.Context(), "agent-1")
	assert.ErrorIs(t, err, store.ErrNotFound)

	_, _, err = srv.Run(t, NewCmd, "unassign")
	assert.Error(t, err, "unassign needs an instance UID")
}
