package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/store"
)

var seen = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// seeded serves the real REST API to a viewer, with three agents.
func seeded(t *testing.T) *clitest.Server {
	t.Helper()
	srv := clitest.NewServer(t, auth.RoleViewer)
	st := srv.Store
	agents := []apitypes.Agent{
		{InstanceUID: "agent-1", Labels: map[string]string{"env": "prod", "host.name": "web-1"}, Online: true,
			Description: apitypes.AgentDescription{HostName: "web-1", OS: "linux", ServiceName: "phoenix-collector", ServiceVersion: "1.2.3"},
			Health:      &apitypes.Health{Healthy: true}, RemoteConfig: apitypes.RemoteConfigStatus{Status: apitypes.ConfigStatusApplied, Hash: strings.Repeat("ab", 32)},
			EffectiveConfig: "receivers: {nop: {}}\n", EffectiveConfigHash: strings.Repeat("cd", 32), ConnectionType: "websocket", ServerID: "r1"},
		{InstanceUID: "agent-2", Labels: map[string]string{"env": "prod", "host.name": "db-1"},
			Health:       &apitypes.Health{Healthy: false, LastError: "exporter down"},
			RemoteConfig: apitypes.RemoteConfigStatus{Status: apitypes.ConfigStatusFailed, ErrorMessage: "bad config"}},
		{InstanceUID: "agent-3", Labels: map[string]string{"env": "staging", "host.name": "web-2"}},
	}
	for _, a := range agents {
		a.FirstSeen, a.LastSeen = seen, seen
		require.NoError(t, st.UpsertAgent(t.Context(), a))
	}
	_, err := st.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-1", Pipeline: "baseline",
		Config: "receivers: {nop: {}}\n", Reason: "rollout"})
	require.NoError(t, err)
	_, err = st.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "agent-2", Config: "receivers: {otlp: {}}\n"})
	require.NoError(t, err)
	return srv
}

func TestListTable(t *testing.T) {
	t.Parallel()
	srv := seeded(t)
	out, _, err := srv.Run(t, NewCmd, "list")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, []string{"INSTANCE", "UID", "HOST", "VERSION", "ONLINE", "HEALTHY", "CONFIG", "PIPELINE", "DRIFT", "LAST", "SEEN"},
		strings.Fields(lines[0]))
	assert.Equal(t, []string{"agent-1", "web-1", "1.2.3", "true", "yes", "APPLIED", "baseline", "pending"}, strings.Fields(lines[1])[:8])
	assert.Equal(t, []string{"agent-2", "-", "-", "false", "no", "FAILED", "(verbatim)", "pending"}, strings.Fields(lines[2])[:8])
	assert.Equal(t, []string{"agent-3", "-", "-", "false", "-", "-", "-", "unassigned"}, strings.Fields(lines[3])[:8])
	assert.True(t, strings.HasSuffix(lines[1], " ago"), lines[1])
}

func TestListFormatsAndFilters(t *testing.T) {
	t.Parallel()
	srv := seeded(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{name: "json", args: []string{"list", "-o", "json"}, want: []string{"agent-1", "agent-2", "agent-3"}},
		{name: "yaml", args: []string{"list", "-o", "yaml"}, want: []string{"agent-1", "agent-2", "agent-3"}},
		{name: "one selector", args: []string{"list", "-o", "json", "--selector", "env=prod"}, want: []string{"agent-1", "agent-2"}},
		{name: "selectors combine", args: []string{"list", "-o", "json", "-l", "env=prod", "-l", "host.name=~web-.*"},
			want: []string{"agent-1"}},
		{name: "online", args: []string{"list", "-o", "yaml", "--online"}, want: []string{"agent-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := srv.Run(t, NewCmd, tt.args...)
			require.NoError(t, err)
			// Both formats have the API's JSON shape.
			var docs []map[string]any
			if tt.args[2] == "json" {
				require.NoError(t, json.Unmarshal([]byte(out), &docs))
			} else {
				require.NoError(t, yaml.Unmarshal([]byte(out), &docs))
			}
			var uids []string
			for _, d := range docs {
				uids = append(uids, d["instance_uid"].(string))
				assert.Contains(t, d, "drift")
			}
			assert.Equal(t, tt.want, uids)
		})
	}
}

func TestListFollowsEveryPage(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, auth.RoleViewer)
	const n = 105 // more than the server's default page of 100
	for i := range n {
		require.NoError(t, srv.Store.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: fmt.Sprintf("agent-%03d", i)}))
	}
	out, _, err := srv.Run(t, NewCmd, "list", "-o", "json")
	require.NoError(t, err)
	var views []apitypes.AgentView
	require.NoError(t, json.Unmarshal([]byte(out), &views))
	assert.Len(t, views, n)
}

func TestListEmptyAndErrors(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, auth.RoleViewer)
	out, errOut, err := srv.Run(t, NewCmd, "list")
	require.NoError(t, err)
	assert.Empty(t, out)
	assert.Equal(t, "no agents\n", errOut)

	_, _, err = srv.Run(t, NewCmd, "list", "--selector", "env")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "listing agents")
	assert.Contains(t, err.Error(), "HTTP 400")

	_, _, err = srv.Run(t, NewCmd, "list", "-o", "xml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown output format")

	_, _, err = srv.Run(t, NewCmd, "list", "extra")
	assert.Error(t, err, "list takes no arguments")

	_, _, err = srv.Run(t, NewCmd, "list", "--token", "wrong")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 401")
}

// rows parses `agent show`'s "Key:  value" lines, up to the first blank line.
func rows(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if line == "" {
			break
		}
		k, v, _ := strings.Cut(line, ":")
		m[k] = strings.TrimSpace(v)
	}
	return m
}

func TestShow(t *testing.T) {
	t.Parallel()
	srv := seeded(t)
	out, _, err := srv.Run(t, NewCmd, "show", "agent-1")
	require.NoError(t, err)
	got := rows(out)
	assert.Equal(t, map[string]string{
		"Instance UID":  "agent-1",
		"Host":          "web-1",
		"OS":            "linux",
		"Service":       "phoenix-collector 1.2.3",
		"Labels":        "env=prod, host.name=web-1",
		"Online":        "true (websocket, server r1)",
		"First seen":    "2025-06-01T12:00:00Z",
		"Last seen":     got["Last seen"],
		"Healthy":       "yes",
		"Remote config": "APPLIED abababababab",
		"Assigned":      "baseline " + store.HashConfig([]byte("receivers: {nop: {}}\n"))[:12] + " (generation 1): rollout",
		"Drift":         "pending",
	}, got)
	assert.Regexp(t, `^2025-06-01T12:00:00Z \(\S+ ago\)$`, got["Last seen"])
	assert.True(t, strings.HasSuffix(out, "\nEffective configuration (cdcdcdcdcdcd):\nreceivers: {nop: {}}\n\n"), out)

	out, _, err = srv.Run(t, NewCmd, "show", "agent-2")
	require.NoError(t, err)
	got = rows(out)
	assert.Equal(t, "no", got["Healthy"])
	assert.Equal(t, "exporter down", got["Last error"])
	assert.Equal(t, "FAILED", got["Remote config"])
	assert.Equal(t, "bad config", got["Config error"])
	assert.True(t, strings.HasPrefix(got["Assigned"], "(verbatim) "), got["Assigned"])
	assert.NotContains(t, out, "Effective configuration")

	out, _, err = srv.Run(t, NewCmd, "show", "agent-3")
	require.NoError(t, err)
	got = rows(out)
	assert.Equal(t, "unassigned", got["Drift"])
	assert.Equal(t, "-", got["Healthy"])
	assert.NotContains(t, got, "Assigned")
	assert.NotContains(t, got, "Last error")
}

func TestShowStructured(t *testing.T) {
	t.Parallel()
	srv := seeded(t)
	out, _, err := srv.Run(t, NewCmd, "show", "agent-1", "-o", "json")
	require.NoError(t, err)
	var v apitypes.AgentView
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	assert.Equal(t, "agent-1", v.InstanceUID)
	require.NotNil(t, v.Assignment)
	assert.Equal(t, "baseline", v.Assignment.Pipeline)

	out, _, err = srv.Run(t, NewCmd, "show", "agent-1", "-o", "yaml")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(out), &doc))
	assert.Equal(t, "agent-1", doc["instance_uid"])
	assert.Equal(t, "baseline", doc["assignment"].(map[string]any)["pipeline"])

	_, _, err = srv.Run(t, NewCmd, "show", "agent-9")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "agent agent-9")
	assert.Contains(t, err.Error(), "HTTP 404")

	_, _, err = srv.Run(t, NewCmd, "show")
	assert.Error(t, err, "show needs an instance UID")
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "never", ago(time.Time{}))
	assert.True(t, strings.HasSuffix(ago(time.Now().Add(-time.Hour)), " ago"))
	assert.Equal(t, "abcdefabcdef", short("abcdefabcdef0123"))
	assert.Equal(t, "abc", short("abc"))
	assert.Equal(t, "-", labels(nil))
	assert.Equal(t, "a=1, b=2", labels(map[string]string{"b": "2", "a": "1"}))
	assert.Equal(t, "-", cmdutil.Or("", "-"))
	assert.Equal(t, "x", cmdutil.Or("x", "-"))
}

func TestListFlagsFillTheOptions(t *testing.T) {
	t.Parallel()
	client := &cmdutil.ClientOptions{}
	opts, err := clitest.Parse(t, func(ios *cmdutil.IOStreams, runF func(context.Context, *ListOptions) error) *cobra.Command {
		return NewCmdList(ios, client, runF)
	}, "-l", "env=prod", "--selector", "host.name=~web-.*", "--online", "-o", "yaml")
	require.NoError(t, err)
	assert.Equal(t, []string{"env=prod", "host.name=~web-.*"}, opts.Selector, "repeated selectors, in order")
	assert.True(t, opts.Online)
	assert.Equal(t, cmdutil.FormatYAML, opts.Format)
	assert.Same(t, client, opts.Client, "the group's client flags")
}

func TestDelete(t *testing.T) {
	t.Parallel()
	viewer := seeded(t)
	_, _, err := viewer.Run(t, NewCmd, "delete", "agent-1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 403", "only an admin removes agents")

	admin := clitest.NewServer(t, auth.RoleAdmin)
	require.NoError(t, admin.Store.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "agent-9"}))
	_, errOut, err := admin.Run(t, NewCmd, "delete", "agent-9")
	require.NoError(t, err)
	assert.Equal(t, "removed agent agent-9 and its assignment\n", errOut)
	_, err = admin.Store.GetAgent(t.Context(), "agent-9")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, _, err = admin.Run(t, NewCmd, "delete", "agent-9")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 404")
}
