package fleetsim_test

// End-to-end tests: simulated fleets against a real `phoenix server` run in
// this process on loopback ports with a fresh data directory and its
// generated tokens. Nothing is mocked.

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/controlplane"
)

// server is a control plane for one test.
type server struct {
	*controlplane.Server
	admin  *apiclient.Client
	enroll string
}

func startServer(t *testing.T) *server {
	t.Helper()
	cfg := controlplane.DefaultConfig()
	cfg.OpAMPListen, cfg.APIListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ServerID = "fleetsim-test"
	s, err := controlplane.New(t.Context(), cfg, nil)
	require.NoError(t, err)
	require.NoError(t, s.Start(context.WithoutCancel(t.Context())))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.Stop(ctx))
	})
	return &server{Server: s, admin: apiclient.New(s.APIURL(), readFile(t, s.Tokens().AdminToken)), enroll: readFile(t, s.Tokens().EnrollToken)}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(raw))
}

// options are a small fleet's against s.
func (s *server) options(fleet string, count int) fleetsim.Options {
	return fleetsim.Options{
		Count: count, Server: s.APIURL(), OpAMP: s.OpAMPURL(), EnrollToken: s.enroll, Fleet: fleet,
		Rate: 500, ApplyDelay: 200 * time.Millisecond,
	}
}

func start(t *testing.T, o fleetsim.Options) *fleetsim.Fleet {
	t.Helper()
	f, err := fleetsim.Start(t.Context(), o)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = f.Stop(ctx)
	})
	return f
}

func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// online lists the fleet's agents the API shows online.
func (s *server) online(t *testing.T, fleet string) []apitypes.AgentView {
	t.Helper()
	yes := true
	agents, err := s.admin.AllAgents(t.Context(), apiclient.ListAgentsOptions{Selector: fleetsim.FleetLabel + "=" + fleet, Online: &yes})
	require.NoError(t, err)
	return agents
}

// assign assigns the baseline pipeline to the whole fleet and returns what
// each agent should apply.
func (s *server) assign(t *testing.T, fleet string) map[string]string {
	t.Helper()
	results, err := s.admin.AssignMany(t.Context(), apitypes.BulkAssignRequest{
		AssignRequest: apitypes.AssignRequest{Pipeline: "baseline"}, Selector: fleetsim.FleetLabel + "=" + fleet,
	})
	require.NoError(t, err)
	want := map[string]string{}
	for _, r := range results {
		want[r.InstanceUID] = r.ConfigHash
	}
	return want
}

func TestAFleetOverWebSocketEnrollsAppliesReportsAndComesBack(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ids := filepath.Join(t.TempDir(), "identities.jsonl")
	o := s.options("ws-fleet", 50)
	o.FailShare, o.Identities, o.TelemetryInterval = 0.2, ids, time.Second
	o.Labels = map[string]string{"env": "bench"}
	began := time.Now()
	f := start(t, o)

	require.NoError(t, f.WaitConnected(within(t, 30*time.Second), 50))
	<-f.Ramped()
	st := f.Stats()
	assert.Equal(t, 50, st.Enrolled)
	assert.Zero(t, st.Reused)
	assert.Equal(t, 50, st.Started)
	assert.Positive(t, st.AllConnected)

	// Every agent is in the inventory, online, described as a supervisor
	// describes its collector.
	require.Eventually(t, func() bool { return len(s.online(t, "ws-fleet")) == 50 }, 10*time.Second, 100*time.Millisecond)
	agents := s.online(t, "ws-fleet")
	hosts := map[string]bool{}
	for _, a := range agents {
		hosts[a.Description.HostName] = true
		assert.Equal(t, fleetsim.ServiceName, a.Description.ServiceName)
		assert.Equal(t, "bench", a.Labels["env"])
		assert.Equal(t, apitypes.ConnectionWebSocket, a.ConnectionType)
		assert.Equal(t, a.InstanceUID, a.Description.Identifying["service.instance.id"])
	}
	assert.Len(t, hosts, 50)
	assert.True(t, hosts["ws-fleet-0"] && hosts["ws-fleet-49"])

	// A pipeline for the whole fleet: four in five apply it, every fifth
	// fails it, and the server sees exactly that.
	want := s.assign(t, "ws-fleet")
	require.Len(t, want, 50)
	out, err := f.WaitOutcomes(within(t, 20*time.Second), want)
	require.NoError(t, err)
	assert.Equal(t, fleetsim.Outcomes{Applied: 40, Failed: 10}, out)
	byStatus := map[apitypes.ConfigStatus]int{}
	require.Eventually(t, func() bool {
		clear(byStatus)
		for _, a := range s.online(t, "ws-fleet") {
			if a.RemoteConfig.Hash == want[a.InstanceUID] {
				byStatus[a.RemoteConfig.Status]++
			}
		}
		return byStatus[apitypes.ConfigStatusApplied] == 40 && byStatus[apitypes.ConfigStatusFailed] == 10
	}, 10*time.Second, 100*time.Millisecond, "%v", byStatus)
	for _, a := range f.Agents() {
		view, err := s.admin.GetAgent(t.Context(), a.InstanceUID)
		require.NoError(t, err)
		if a.Index%5 == 4 {
			assert.Equal(t, apitypes.DriftFailed, view.Drift.State, "agent %d", a.Index)
			assert.Contains(t, view.RemoteConfig.ErrorMessage, "simulated failure")
			assert.False(t, view.Health.Healthy, "nothing to roll back to: the collector is down")
			continue
		}
		assert.Equal(t, apitypes.DriftInSync, view.Drift.State, "agent %d: %s", a.Index, view.Drift.Message)
		assert.Equal(t, want[a.InstanceUID], a.RunningHash)
		assert.True(t, view.Health.Healthy)
	}

	// Own telemetry arrives for the agents whose collectors run.
	var running string
	for _, a := range f.Agents() {
		if a.Status == "APPLIED" {
			running = a.InstanceUID
			break
		}
	}
	require.Eventually(t, func() bool {
		samples, err := s.admin.AgentMetrics(t.Context(), running, fleetsim.MetricMemoryRSS, "", time.Time{}, time.Time{})
		return err == nil && len(samples) > 0
	}, 10*time.Second, 200*time.Millisecond)
	require.Eventually(t, func() bool { return f.Stats().TelemetryExports >= 40 }, 10*time.Second, 100*time.Millisecond)

	summary, err := f.Stop(within(t, 10*time.Second))
	require.NoError(t, err)
	assert.Equal(t, 50, summary.Stopped)
	assert.Empty(t, summary.Errors, "%v", summary.ErrorExamples)
	require.NotEmpty(t, summary.Waves)
	last := summary.Waves[len(summary.Waves)-1]
	assert.Equal(t, 50, last.Received)
	assert.Equal(t, 40, last.Applied)
	assert.Equal(t, 10, last.Failed)
	assert.LessOrEqual(t, last.ReceivedP50, last.ReceivedP99)
	assert.Less(t, last.ReceivedMax, 5*time.Second)
	assert.Positive(t, summary.Memory.RSS)
	assert.Equal(t, 50, summary.Memory.Agents)
	require.Eventually(t, func() bool { return len(s.online(t, "ws-fleet")) == 0 }, 10*time.Second, 100*time.Millisecond,
		"a WebSocket agent says goodbye as it stops")

	// The identities file holds one line per agent; a second run reuses
	// them all: the same agents come back, nobody enrolls.
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(readFile(t, ids)))
	for sc.Scan() {
		lines++
	}
	assert.Equal(t, 100, lines, "each agent's identity, then with its own-telemetry destination")
	before := uids(f.Agents())
	failed := map[string]bool{}
	for _, a := range f.Agents() {
		failed[a.InstanceUID] = a.Status == "FAILED"
	}
	o.EnrollToken = "" // not needed: every agent has an identity
	again := start(t, o)
	require.NoError(t, again.WaitConnected(within(t, 30*time.Second), 50))
	<-again.Ramped()
	assert.Equal(t, 50, again.Stats().Reused)
	assert.Equal(t, before, uids(again.Agents()))
	// The agents know nothing of their last run's configurations: the
	// server sends them again to the agents that applied them, and not to
	// those that failed them (it remembers failed hashes).
	applied := map[string]string{}
	for uid, hash := range want {
		if !failed[uid] {
			applied[uid] = hash
		}
	}
	out, err = again.WaitOutcomes(within(t, 20*time.Second), applied)
	require.NoError(t, err)
	assert.Equal(t, fleetsim.Outcomes{Applied: 40}, out)
	for _, a := range again.Agents() {
		if failed[a.InstanceUID] {
			assert.Empty(t, a.Status, "agent %d was sent the configuration it failed", a.Index)
		}
	}
	// The server offers own telemetry once per agent and replica lifetime:
	// the agents export where they were told on the first run, as the
	// supervisor, which keeps the offer, does.
	require.Eventually(t, func() bool { return again.Stats().TelemetryExports >= 40 }, 10*time.Second, 100*time.Millisecond)
	all, err := s.admin.AllAgents(t.Context(), apiclient.ListAgentsOptions{Selector: fleetsim.FleetLabel + "=ws-fleet"})
	require.NoError(t, err)
	assert.Len(t, all, 50, "no new agents in the inventory")
	t.Logf("two runs of 50 agents in %s", time.Since(began).Round(time.Millisecond))
}

func uids(agents []fleetsim.AgentStatus) []string {
	var out []string
	for _, a := range agents {
		out = append(out, a.InstanceUID)
	}
	slices.Sort(out)
	return out
}

func TestAFleetOverPlainHTTPPolls(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	o := s.options("http-fleet", 10)
	o.Transport, o.Heartbeat, o.TelemetryInterval = fleetsim.HTTP, 300*time.Millisecond, time.Second
	f := start(t, o)
	require.NoError(t, f.WaitConnected(within(t, 20*time.Second), 10))
	require.Eventually(t, func() bool { return len(s.online(t, "http-fleet")) == 10 }, 10*time.Second, 100*time.Millisecond)
	for _, a := range s.online(t, "http-fleet") {
		assert.Equal(t, apitypes.ConnectionHTTP, a.ConnectionType)
	}

	want := s.assign(t, "http-fleet")
	out, err := f.WaitOutcomes(within(t, 20*time.Second), want)
	require.NoError(t, err)
	assert.Equal(t, fleetsim.Outcomes{Applied: 10}, out)
	require.Eventually(t, func() bool {
		for _, a := range s.online(t, "http-fleet") {
			if a.RemoteConfig.Status != apitypes.ConfigStatusApplied || a.RemoteConfig.Hash != want[a.InstanceUID] {
				return false
			}
		}
		return true
	}, 10*time.Second, 100*time.Millisecond)
	require.Eventually(t, func() bool { return f.Stats().TelemetryExports >= 10 }, 10*time.Second, 100*time.Millisecond)

	// One configuration, verbatim, for all: one hash to wait for.
	rendered, err := s.admin.RenderPipeline(t.Context(), "baseline", nil)
	require.NoError(t, err)
	results, err := s.admin.AssignMany(t.Context(), apitypes.BulkAssignRequest{
		AssignRequest: apitypes.AssignRequest{Config: rendered.Config}, Selector: fleetsim.FleetLabel + "=http-fleet",
	})
	require.NoError(t, err)
	require.Len(t, results, 10)
	require.NoError(t, f.WaitApplied(within(t, 20*time.Second), results[0].ConfigHash, 10))
	for _, a := range f.Agents() {
		assert.Equal(t, results[0].ConfigHash, a.RunningHash)
	}
	require.ErrorContains(t, f.WaitApplied(within(t, 100*time.Millisecond), "feed", 1), "0 of 1 agents applied")

	summary, err := f.Stop(within(t, 10*time.Second))
	require.NoError(t, err)
	assert.Equal(t, 10, summary.Stopped)
	received := 0
	for _, w := range summary.Waves {
		received += w.Received
	}
	assert.Equal(t, 20, received, "two configurations for each agent, in one or two waves")
	assert.Equal(t, fleetsim.HTTP, summary.Transport)
	assert.True(t, strings.HasPrefix(summary.OpAMP, "http://"), summary.OpAMP)
	assert.Empty(t, summary.Errors, "%v", summary.ErrorExamples)
}

func TestARefusedEnrollmentTokenEndsTheRamp(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	o := s.options("refused", 5)
	o.EnrollToken = "not-a-token"
	f := start(t, o)
	select {
	case <-f.Failed():
	case <-within(t, 10*time.Second).Done():
		t.Fatal("a refused enrollment token must end the ramp")
	}
	require.ErrorIs(t, f.Err(), fleetsim.ErrEnrollRefused)
	summary, err := f.Stop(within(t, 5*time.Second))
	require.ErrorIs(t, err, fleetsim.ErrEnrollRefused)
	assert.Zero(t, summary.Started)
}

func TestAnUnreachableServerEndsTheRamp(t *testing.T) {
	t.Parallel()
	f := start(t, fleetsim.Options{Count: 100, Server: "http://127.0.0.1:1", EnrollToken: "t"})
	select {
	case <-f.Failed():
	case <-within(t, 20*time.Second).Done():
		t.Fatal("a server that cannot be reached must end the ramp")
	}
	require.ErrorContains(t, f.Err(), "the server cannot be reached to enroll agents")
}

func TestRefusedCredentialsAreCountedByStatus(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ids := filepath.Join(t.TempDir(), "identities.jsonl")
	o := s.options("revoked", 2)
	o.Identities = ids
	_, err := fleetsim.Run(within(t, 2*time.Second), o) // enrolls, connects, ends
	require.NoError(t, err)
	revoked := map[string]bool{}
	for _, line := range strings.Split(readFile(t, ids), "\n") {
		var id fleetsim.Identity
		require.NoError(t, json.Unmarshal([]byte(line), &id))
		if !revoked[id.InstanceUID] {
			require.NoError(t, s.admin.RevokeCredential(t.Context(), id.InstanceUID))
			revoked[id.InstanceUID] = true
		}
	}
	require.Len(t, revoked, 2)
	for _, transport := range []fleetsim.Transport{fleetsim.WebSocket, fleetsim.HTTP} {
		o.Transport, o.Heartbeat = transport, 200*time.Millisecond
		f := start(t, o)
		require.Eventually(t, func() bool { return f.Stats().Errors[fleetsim.ErrRefused+" 401"] >= 2 }, 10*time.Second, 50*time.Millisecond,
			"%s: %v", transport, f.Stats().Errors)
		st := f.Stats()
		assert.Zero(t, st.Connected, transport)
		assert.Zero(t, st.Errors[fleetsim.ErrConnect], "%s: a refusal is not a connection failure", transport)
		_, _ = f.Stop(within(t, 5*time.Second))
	}
}
