package server

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/controlplane"
)

// parse returns the options `phoenix server args...` makes, without
// starting anything.
func parse(t *testing.T, args ...string) *Options {
	t.Helper()
	opts, err := clitest.Parse(t, NewCmd, args...)
	require.NoError(t, err)
	return opts
}

func TestResolveWithoutConfigFile(t *testing.T) {
	t.Parallel()
	opts := parse(t, "--api-listen", "127.0.0.1:9000", "--no-auth")
	cfg, err := opts.resolve()
	require.NoError(t, err)
	want := controlplane.DefaultConfig()
	want.APIListen, want.NoAuth = "127.0.0.1:9000", true
	assert.Equal(t, want, cfg)
}

func TestResolveFlagsOverrideTheFile(t *testing.T) {
	t.Parallel()
	file := clitest.WriteFile(t, "server.yaml", `api_listen: 127.0.0.1:9000
data_dir: /from/file
public_url: https://phoenix.example.com
no_auth: true
sample_retention: 1h
server_id: file-replica
presence_lease: 1m
`)
	opts := parse(t, "--config", file, "--api-listen", "127.0.0.1:9100", "--sample-retention", "2h", "--no-auth=false",
		"--metrics-auth", "--presence-lease", "15s")
	cfg, err := opts.resolve()
	require.NoError(t, err)

	want := controlplane.DefaultConfig()
	want.APIListen = "127.0.0.1:9100"              // flag
	want.SampleRetention = 2 * time.Hour           // flag
	want.NoAuth = false                            // flag, explicitly false
	want.MetricsAuth = true                        // flag
	want.PresenceLease = 15 * time.Second          // flag over the file
	want.DataDir = "/from/file"                    // file
	want.PublicURL = "https://phoenix.example.com" // file
	want.ServerID = "file-replica"                 // file
	// opamp_listen is in neither: the default.
	assert.Equal(t, want, cfg)
}

func TestResolveAgentEnvAllowlist(t *testing.T) {
	t.Parallel()
	cfg, err := parse(t).resolve()
	require.NoError(t, err)
	assert.Equal(t, []string{"NEW_RELIC_LICENSE_KEY", "OTLP_*"}, cfg.AgentEnvAllowlist, "the default")

	file := clitest.WriteFile(t, "server.yaml", "agent_env_allowlist: [DD_API_KEY, \"HONEYCOMB_*\"]\n")
	cfg, err = parse(t, "--config", file).resolve()
	require.NoError(t, err)
	assert.Equal(t, []string{"DD_API_KEY", "HONEYCOMB_*"}, cfg.AgentEnvAllowlist, "the file replaces the default")

	cfg, err = parse(t, "--config", file, "--agent-env-allowlist", "OTLP_*,NR_KEY").resolve()
	require.NoError(t, err)
	assert.Equal(t, []string{"OTLP_*", "NR_KEY"}, cfg.AgentEnvAllowlist, "the flag replaces the file")

	empty := clitest.WriteFile(t, "server.yaml", "agent_env_allowlist: []\n")
	cfg, err = parse(t, "--config", empty).resolve()
	require.NoError(t, err)
	assert.Empty(t, cfg.AgentEnvAllowlist, "only the catalog's own variables")
}

func TestResolveRejectsBadFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, content string
		mention       string
	}{
		{name: "unknown key", content: "api_listen: :8080\nlisten: :9000\n", mention: "field listen not found"},
		{name: "wrong type", content: "sample_retention: forever\n", mention: "line 1: cannot unmarshal !!str `forever`"},
		{name: "not YAML", content: "api_listen: [", mention: "yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			file := clitest.WriteFile(t, "server.yaml", tt.content)
			_, err := parse(t, "--config", file).resolve()
			require.Error(t, err)
			assert.Contains(t, err.Error(), file, "the error names the file")
			assert.Contains(t, err.Error(), tt.mention)
		})
	}
	_, err := parse(t, "--config", filepath.Join(t.TempDir(), "missing.yaml")).resolve()
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestNewLogger(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l, err := newLogger(&buf, "WARN", "json")
	require.NoError(t, err)
	l.Info("dropped")
	l.Warn("kept", "k", "v")
	var rec map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), "one JSON record: %s", buf.String())
	assert.Equal(t, "kept", rec["msg"])
	assert.Equal(t, "v", rec["k"])

	buf.Reset()
	l, err = newLogger(&buf, "debug", "text")
	require.NoError(t, err)
	l.Debug("hello", "k", "v")
	assert.Contains(t, buf.String(), "level=DEBUG msg=hello k=v")

	_, err = newLogger(&buf, "verbose", "text")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--log-level")
	_, err = newLogger(&buf, "info", "xml")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `--log-format: "xml" is not text or json`)
}

// signalWriter is a goroutine-safe buffer that closes seen when a line
// containing want has been written.
type signalWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if w.seen != nil && strings.Contains(w.buf.String(), w.want) {
		close(w.seen)
		w.seen = nil
	}
	return n, err
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func TestRunStartsAndStopsOnCancel(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	seen := make(chan struct{})
	errOut := &signalWriter{want: "Created tokens", seen: seen}
	ios := &cmdutil.IOStreams{In: &bytes.Buffer{}, Out: &bytes.Buffer{}, ErrOut: errOut}
	cmd := NewCmd(ios, nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs([]string{"--data-dir", dataDir, "--opamp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0",
		"--server-id", "test", "--log-format", "json"})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	select {
	case <-seen:
	case err := <-done:
		t.Fatalf("server exited before starting: %v\n%s", err, errOut.String())
	}
	cancel()
	require.NoError(t, <-done, "Ctrl-C is a clean stop")

	out := errOut.String()
	assert.Contains(t, out, "Created tokens: admin in "+filepath.Join(dataDir, "admin.token")+", enrollment (for `phoenix agent enroll`) in "+filepath.Join(dataDir, "enroll.token"))
	assert.Contains(t, out, `"msg":"phoenix server started"`)
	assert.Contains(t, out, `"msg":"shutting down"`)
	_, err := os.Stat(filepath.Join(dataDir, "phoenix.db"))
	assert.NoError(t, err, "the embedded store lives in the data directory")
}

func TestRunFailsBeforeStarting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		mention string
	}{
		{name: "invalid setting", args: []string{"--server-id", ""}, mention: "server_id"},
		{name: "bad log level", args: []string{"--log-level", "loud"}, mention: "--log-level"},
		{name: "bad config file", args: []string{"--config", clitest.WriteFile(t, "server.yaml", "nope: 1\n")}, mention: "field nope not found"},
		{name: "arguments", args: []string{"now"}, mention: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := clitest.Run(t, clitest.Real(NewCmd), append([]string{"--data-dir", t.TempDir(),
				"--opamp-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0"}, tt.args...)...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.mention)
		})
	}
}
