package loadsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/controlplane"
)

func TestAgentsFlagsFillTheOptions(t *testing.T) {
	t.Parallel()
	opts, err := clitest.Parse(t, NewCmdAgents,
		"--count", "250", "--server", "http://10.0.0.1:8080", "--opamp", "ws://10.0.0.2:4320/v1/opamp", "--transport", "http",
		"--enroll-token-file", "/etc/phoenix/enroll.token", "--identities", "fleet.jsonl", "--fleet", "bench", "--host-prefix", "web",
		"-l", "env=bench", "--label", "zone=a", "--fail-share", "0.05", "--apply-delay", "10s", "--telemetry-interval", "15s",
		"--telemetry-concurrency", "8", "--rate", "50", "--enroll-concurrency", "4", "--heartbeat", "5s", "--duration", "2m", "-o", "json",
		"--candidate-share", "0.3",
	)
	require.NoError(t, err)
	assert.Equal(t, fleetsim.Options{
		Count: 250, OpAMP: "ws://10.0.0.2:4320/v1/opamp", Identities: "fleet.jsonl", Fleet: "bench", HostPrefix: "web",
		FailShare: 0.05, ApplyDelay: 10 * time.Second, TelemetryInterval: 15 * time.Second, TelemetryConcurrency: 8,
		Rate: 50, EnrollConcurrency: 4, Heartbeat: 5 * time.Second, CandidateShare: 0.3,
	}, opts.Sim)
	assert.Equal(t, "http://10.0.0.1:8080", opts.Server)
	assert.Equal(t, "http", opts.Transport)
	assert.Equal(t, "/etc/phoenix/enroll.token", opts.EnrollTokenFile)
	assert.Equal(t, []string{"env=bench", "zone=a"}, opts.Labels)
	assert.Equal(t, 2*time.Minute, opts.Duration)
	assert.Equal(t, cmdutil.FormatJSON, opts.Output)

	o, err := fleetOptions(opts)
	require.Error(t, err, "the token file does not exist")
	assert.Contains(t, err.Error(), "reading the enrollment token")
	assert.Equal(t, map[string]string{"env": "bench", "zone": "a"}, o.Labels)
	assert.Equal(t, fleetsim.HTTP, o.Transport)
}

func TestAgentsDefaults(t *testing.T) {
	t.Parallel()
	opts, err := clitest.Parse(t, NewCmdAgents)
	require.NoError(t, err)
	assert.Equal(t, 100, opts.Sim.Count)
	assert.Equal(t, "ws", opts.Transport)
	assert.Equal(t, fleetsim.DefaultFleet, opts.Sim.Fleet)
	assert.Equal(t, time.Second, opts.Sim.ApplyDelay)
	assert.Equal(t, time.Minute, opts.Sim.TelemetryInterval)
	assert.InDelta(t, fleetsim.DefaultRate, opts.Sim.Rate, 0)
	assert.Equal(t, fleetsim.DefaultHeartbeat, opts.Sim.Heartbeat)
	assert.Zero(t, opts.Duration, "until interrupted")
	assert.Equal(t, cmdutil.FormatTable, opts.Output)
}

func TestAgentsRefusesBadInputBeforeConnecting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--count", "0"}, "count must be at least 1, got 0"},
		{[]string{"--count", "100001"}, "count must be at most 100000"},
		{[]string{"--server", "localhost:8080"}, `server "localhost:8080"`},
		{[]string{"--server", "ftp://h"}, "the scheme must be http, https"},
		{[]string{"--opamp", "tcp://h:4320"}, `opamp "tcp://h:4320": the scheme must be ws, wss, http, https`},
		{[]string{"--transport", "grpc"}, `transport must be "ws" or "http", got "grpc"`},
		{[]string{"--fail-share", "1.2"}, "fail-share must be within [0, 1], got 1.2"},
		{[]string{"--fail-share", "-0.5"}, "fail-share must be within [0, 1], got -0.5"},
		{[]string{"--rate", "-5"}, "rate must be a positive number"},
		{[]string{"--label", "env"}, `--label "env": want key=value`},
		{[]string{"--label", "=x"}, `--label "=x": want key=value`},
		{[]string{"-l", "env=a", "-l", "env=b"}, `--label "env=b": env given twice`},
		{[]string{"--label", "host.name=x"}, `label "host.name": set by the simulator itself`},
		{[]string{"--duration", "-1s"}, "--duration must not be negative"},
		{[]string{"--fail-share", "lots"}, `invalid argument "lots" for "--fail-share"`},
		{[]string{"extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			_, _, err := clitest.Run(t, clitest.Real(NewCmdAgents), tt.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestAgentsNeedsAnEnrollmentTokenForNewAgents(t *testing.T) {
	t.Setenv("PHOENIX_ENROLL_TOKEN", "")
	_, _, err := clitest.Run(t, clitest.Real(NewCmdAgents), "--server", "http://phoenix.example.com:8080", "--count", "3")
	require.ErrorIs(t, err, fleetsim.ErrEnrollTokenNeeded)
	assert.Contains(t, err.Error(), "3 of the 3 agents have no identity yet: give --enroll-token-file (or PHOENIX_ENROLL_TOKEN)")

	t.Setenv("PHOENIX_ENROLL_TOKEN", "from-env")
	token, err := cmdutil.EnrollToken("", "http://phoenix.example.com:8080")
	require.NoError(t, err)
	assert.Equal(t, "from-env", token)
	file := filepath.Join(t.TempDir(), "enroll.token")
	require.NoError(t, os.WriteFile(file, []byte("from-file\n"), 0o600))
	token, err = cmdutil.EnrollToken(file, "http://phoenix.example.com:8080")
	require.NoError(t, err)
	assert.Equal(t, "from-file", token, "the flag's file beats the environment")
}

func TestProgressIsQuietWhenNotATerminal(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgress(&buf, time.Hour)
	st := fleetsim.Stats{Agents: 10, Enrolled: 4, Connected: 3, Elapsed: 1500 * time.Millisecond}
	p.show(st, false)
	p.show(st, false)
	st.Connected = 4
	p.show(st, false) // changed, but within the interval
	st.Ramped, st.Errors = time.Second, map[string]int{"connect": 2}
	p.show(st, true) // the ramp ended
	p.done()
	assert.Equal(t, "loadsim: 2s enrolled 4/10, connected 3, applying 0, applied 0, failed 0 (starting)\n"+
		"loadsim: 2s enrolled 4/10, connected 4, applying 0, applied 0, failed 0, 2 errors\n", buf.String())
}

func TestSummaryTable(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := fleetsim.Summary{
		Fleet: "bench", Transport: fleetsim.WebSocket, OpAMP: "ws://127.0.0.1:4320/v1/opamp", Identities: "ids.jsonl", TelemetryInterval: time.Minute,
		Stats: fleetsim.Stats{
			Agents: 10, Enrolled: 10, Reused: 4, Started: 10, Connected: 10, EverConnected: 10, ConfigsReceived: 10,
			Applied: 8, Failed: 2, TelemetryExports: 30, Elapsed: time.Minute, Ramped: time.Second, AllConnected: 1200 * time.Millisecond,
			Errors: map[string]int{"refused 401": 2}, ErrorExamples: map[string]string{"refused 401": "Server responded with status=401 Unauthorized"},
		},
		Waves:   []fleetsim.Wave{{Start: time.Now(), Received: 10, Applied: 8, Failed: 2, ReceivedP50: 20 * time.Millisecond, ReceivedP99: 90 * time.Millisecond, ReceivedMax: 95 * time.Millisecond}},
		Memory:  fleetsim.Memory{RSS: 200 << 20, PeakRSS: 210 << 20, BaselineRSS: 100 << 20, PerAgent: 40 << 10, HeapInuse: 50 << 20, Goroutines: 42, Agents: 10},
		Stopped: 10, StopTime: 300 * time.Millisecond,
	}
	require.NoError(t, writeSummary(&buf, cmdutil.FormatTable, s, "the duration ended"))
	out := buf.String()
	for _, want := range []string{
		"Fleet          bench: 10 agents over WebSocket to ws://127.0.0.1:4320/v1/opamp\n",
		"Ended          the duration ended after 1m0s\n",
		"Enrolled       10 (6 new, 4 from ids.jsonl)\n",
		"Connected      10 of 10 started at the end; all had connected 1.2s after the start (ramp 1s)\n",
		"received within p50 20ms, p99 90ms, max 95ms of the first; 8 applied, 2 failed\n",
		"Own telemetry  30 exports accepted (every 1m0s)\n",
		"  refused 401  2 (first: Server responded with status=401 Unauthorized)\n",
		"Memory         RSS 200 MiB (peak 210 MiB, 100 MiB before the agents): 40.0 KiB per agent over 10 agents; Go heap 50 MiB, 42 goroutines\n",
		"Stopped        10 agents disconnected in 300ms\n",
	} {
		assert.Contains(t, out, want)
	}
}

// TestAgentsAgainstARealServer runs the command against a control plane in
// this process: a few agents connect, a SIGINT ends the run, and the
// summary comes out as JSON.
func TestAgentsAgainstARealServer(t *testing.T) {
	t.Parallel()
	cfg := controlplane.DefaultConfig()
	cfg.OpAMPListen, cfg.APIListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir, cfg.ServerID = t.TempDir(), "loadsim-test"
	srv, err := controlplane.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.WithoutCancel(t.Context())))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Stop(ctx))
	})

	ios, out, errOut := cmdutil.Test()
	ctx, cancel := context.WithCancelCause(t.Context())
	defer cancel(nil)
	cmd := NewCmdAgents(ios, nil)
	cmd.SetArgs([]string{"--server", srv.APIURL(), "--opamp", srv.OpAMPURL(), "--enroll-token-file", srv.Tokens().EnrollToken,
		"--count", "5", "--fleet", "cmd-test", "-o", "json"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	time.Sleep(3 * time.Second)
	cancel(&cmdutil.SignalError{Signal: syscall.SIGINT})
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not end after SIGINT")
	}
	var exit *cmdutil.ExitError
	require.True(t, errors.As(err, &exit), "%v", err)
	assert.Equal(t, 130, exit.Code)

	var summary struct {
		Ended string `json:"ended"`
		fleetsim.Summary
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &summary), out.String())
	assert.Equal(t, "stopped by SIGINT", summary.Ended)
	assert.Equal(t, "cmd-test", summary.Fleet)
	assert.Equal(t, 5, summary.Enrolled)
	assert.Equal(t, 5, summary.Connected)
	assert.Equal(t, 5, summary.Stopped)
	assert.Positive(t, summary.Memory.RSS)
	assert.Contains(t, errOut.String(), "loadsim: 5 agents of fleet cmd-test over WebSocket to "+srv.OpAMPURL())
	assert.Contains(t, errOut.String(), "loadsim: stopped by SIGINT; disconnecting 5 agents\n")
}
