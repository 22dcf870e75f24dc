package controlplane

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store/pgstore"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/pgtest"
)

const (
	// lease is every replica's --presence-lease: the shortest allowed.
	lease = 3 * time.Second
	// applyDelay makes a configuration take up to this long to apply, so a
	// deploy or a promote is still under way when a replica is killed.
	applyDelay = 6 * time.Second
	fleetSize  = 30
	fleetName  = "kill"
)

var killParams = map[string]any{"collection_interval": "5s", "system_metrics": false, "destination": "none"}

// cluster is three `phoenix server` replicas on one PostgreSQL, a fleet
// reaching them through a balancer, and one small fleet pinned to each
// replica (it cannot reconnect elsewhere, so only the lease can mark it
// offline when its replica dies).
type cluster struct {
	t        *testing.T
	dsn      string
	replicas []*harness.Server
	fleet    *fleetsim.Fleet
	pinned   []string // fleet name pinned to each replica
}

func startCluster(t *testing.T) *cluster {
	dsn := pgtest.Start(t)
	admin, enroll := "kill-admin-token-0123456789", "kill-enroll-token-0123456789"
	tokensFile := filepath.Join(t.TempDir(), "tokens.yaml")
	require.NoError(t, os.WriteFile(tokensFile, []byte(strings.Join([]string{
		"tokens:",
		fmt.Sprintf("  - {name: admin, token_sha256: %s, roles: [admin]}", sha(admin)),
		fmt.Sprintf("  - {name: hosts, token_sha256: %s, roles: [enroll]}", sha(enroll)),
	}, "\n")+"\n"), 0o600))
	c := &cluster{t: t, dsn: dsn}
	var backends []string
	for i := range 3 {
		s := harness.StartServer(t, harness.ServerOptions{Store: dsn, TokensFile: tokensFile, AdminToken: admin, EnrollToken: enroll,
			ServerID: fmt.Sprintf("replica-%d", i), Args: []string{"--presence-lease", lease.String()}})
		c.replicas = append(c.replicas, s)
		u, err := url.Parse(s.OpAMP)
		require.NoError(t, err)
		backends = append(backends, u.Host)
	}
	lb := startBalancer(t, backends)
	c.fleet = startFleet(t, fleetsim.Options{Count: fleetSize, Server: c.replicas[0].API, OpAMP: "ws://" + lb + "/v1/opamp",
		EnrollToken: enroll, Fleet: fleetName, Rate: 500, ApplyDelay: applyDelay})
	for i, s := range c.replicas {
		name := fmt.Sprintf("pinned-%d", i)
		c.pinned = append(c.pinned, name)
		f := startFleet(t, fleetsim.Options{Count: 3, Server: s.API, OpAMP: s.OpAMP, EnrollToken: enroll, Fleet: name, Rate: 500})
		require.NoError(t, f.WaitConnected(within(t, 30*time.Second), 3))
	}
	require.NoError(t, c.fleet.WaitConnected(within(t, 30*time.Second), fleetSize))
	// Connected is not yet stored: wait for the inventory.
	yes := true
	harness.Eventually(t, t.Context(), 30*time.Second, func() (bool, string) {
		online, err := c.replicas[0].Client().AllAgents(t.Context(), apiclient.ListAgentsOptions{
			Selector: fleetsim.FleetLabel + "=" + fleetName, Online: &yes})
		if err != nil {
			return false, err.Error()
		}
		return len(online) == fleetSize, fmt.Sprintf("%d of %d agents online in the inventory", len(online), fleetSize)
	}, c.logs)
	return c
}

func startFleet(t *testing.T, o fleetsim.Options) *fleetsim.Fleet {
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

func (c *cluster) logs() string {
	var b strings.Builder
	for i, s := range c.replicas {
		fmt.Fprintf(&b, "--- replica-%d\n%s", i, s.Log())
	}
	return b.String()
}

// agents lists the agents matching selector, through replica i.
func (c *cluster) agents(i int, selector string) []apitypes.AgentView {
	c.t.Helper()
	views, err := c.replicas[i].Client().AllAgents(c.t.Context(), apiclient.ListAgentsOptions{Selector: selector})
	require.NoError(c.t, err)
	return views
}

// waitAgents waits until every agent of the fleet holds cond, asking
// replica i, and returns them.
func (c *cluster) waitAgents(i int, timeout time.Duration, what string, cond func(apitypes.AgentView) string) map[string]apitypes.AgentView {
	c.t.Helper()
	var last map[string]apitypes.AgentView
	harness.Eventually(c.t, c.t.Context(), timeout, func() (bool, string) {
		views := c.agents(i, fleetsim.FleetLabel+"="+fleetName)
		last = map[string]apitypes.AgentView{}
		var bad []string
		for _, v := range views {
			last[v.InstanceUID] = v
			if why := cond(v); why != "" {
				bad = append(bad, v.Description.HostName+": "+why)
			}
		}
		if len(views) != fleetSize {
			return false, fmt.Sprintf("%s: %d agents, want %d", what, len(views), fleetSize)
		}
		return len(bad) == 0, fmt.Sprintf("%s: %d agent(s) not yet: %s", what, len(bad), strings.Join(bad[:min(len(bad), 5)], "; "))
	}, c.logs)
	return last
}

// runs says what is wrong with an agent that should run hash, APPLIED,
// online on a live replica ("" when nothing is).
func runs(hash, deadReplica string) func(apitypes.AgentView) string {
	return func(v apitypes.AgentView) string {
		switch {
		case !v.Online:
			return "offline"
		case v.ServerID == deadReplica:
			return "held by the killed " + deadReplica
		case v.RemoteConfig.Hash != hash || v.RemoteConfig.Status != apitypes.ConfigStatusApplied:
			return fmt.Sprintf("runs %.8s %s, want %.8s APPLIED", v.RemoteConfig.Hash, v.RemoteConfig.Status, hash)
		}
		return ""
	}
}

// checkFleetRuns checks the simulated agents themselves: each runs want[uid].
func (c *cluster) checkFleetRuns(want map[string]string) {
	c.t.Helper()
	for _, a := range c.fleet.Agents() {
		assert.Equal(c.t, want[a.InstanceUID], a.RunningHash, "%s runs", a.HostName)
		assert.Equal(c.t, "APPLIED", a.Status, a.HostName)
	}
}

// waitDeadReplicaReleased waits until no agent is online on the killed
// replica: the balanced fleet reconnected elsewhere, and its pinned fleet,
// which cannot, was marked offline when its lease ran out. It returns how
// long after the kill that took.
func (c *cluster) waitDeadReplicaReleased(survivor, killed int, killedAt time.Time) time.Duration {
	c.t.Helper()
	dead := fmt.Sprintf("replica-%d", killed)
	harness.Eventually(c.t, c.t.Context(), 4*lease, func() (bool, string) {
		var held []string
		for _, v := range c.agents(survivor, "") {
			if v.Online && v.ServerID == dead {
				held = append(held, v.Description.HostName)
			}
		}
		return len(held) == 0, fmt.Sprintf("%d agent(s) still online on %s: %v", len(held), dead, held)
	}, c.logs)
	took := time.Since(killedAt)
	pinned := c.agents(survivor, fleetsim.FleetLabel+"="+c.pinned[killed])
	require.Len(c.t, pinned, 3)
	for _, v := range pinned {
		assert.False(c.t, v.Online, "%s (pinned to the killed replica) is offline", v.Description.HostName)
	}
	return took
}

// expiredAgents sums phoenix_presence_agents_offline_total over the live
// replicas.
func (c *cluster) expiredAgents(killed ...int) float64 {
	total := 0.0
	for i, s := range c.replicas {
		if !slices.Contains(killed, i) {
			total += max(s.Metric("phoenix_presence_agents_offline_total"), 0)
		}
	}
	return total
}

// TestKilledReplicasDuringDeployAndPromote SIGKILLs replicas of three, on
// one PostgreSQL, in the middle of an experiment's deploy and of a promote.
// The experiment carries on on the survivors, every agent ends on the
// configuration it should run, and the killed replica's agents are released
// within its presence lease: the balanced ones reconnect to another
// replica, the pinned ones are marked offline.
func TestKilledReplicasDuringDeployAndPromote(t *testing.T) {
	ctx := t.Context()
	c := startCluster(t)
	admin := c.replicas[0].Client()
	selector := fleetsim.FleetLabel + "=" + fleetName

	// Every agent runs the baseline.
	results, err := admin.AssignMany(ctx, apitypes.BulkAssignRequest{
		AssignRequest: apitypes.AssignRequest{Pipeline: "baseline", Parameters: killParams}, Selector: selector})
	require.NoError(t, err)
	require.Len(t, results, fleetSize)
	before := map[string]string{}
	for _, r := range results {
		before[r.InstanceUID] = r.ConfigHash
	}
	c.waitAgents(0, 60*time.Second, "baseline applied", func(v apitypes.AgentView) string { return runs(before[v.InstanceUID], "")(v) })

	// (a) The replica that deploys the experiment dies while agents apply.
	spec := apitypes.ExperimentSpec{
		Name: "kill during deploy", Targets: apitypes.Targets{Selector: selector}, Mode: apitypes.ModePaired,
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Parameters: killParams, Duration: apitypes.Duration(apitypes.MinDuration), Warmup: apitypes.Duration(time.Minute),
		DeployTimeout: apitypes.Duration(2 * time.Minute), SuccessCriteria: apitypes.Criteria{MinSeriesReduction: 0.5},
	}
	x, err := admin.CreateExperiment(ctx, spec, true)
	require.NoError(t, err)
	deployer := -1
	harness.Eventually(t, ctx, 20*time.Second, func() (bool, string) {
		for i, s := range c.replicas {
			if strings.Contains(s.Log(), "to=deploying") {
				deployer = i
				return true, ""
			}
		}
		return false, "no replica has deployed the experiment"
	}, c.logs)
	now, err := admin.Experiment(ctx, x.ID)
	require.NoError(t, err)
	require.Equal(t, apitypes.ExperimentDeploying, now.Status, "killed in the middle of the deploy")
	killedAt := time.Now()
	c.replicas[deployer].Kill()
	survivor := (deployer + 1) % 3
	t.Logf("killed replica-%d, the deployer, with the experiment deploying", deployer)

	took := c.waitDeadReplicaReleased(survivor, deployer, killedAt)
	t.Logf("replica-%d's agents released %s after the kill (lease %s)", deployer, took.Round(10*time.Millisecond), lease)
	assert.Less(t, took, lease+lease/3+2*time.Second, "within about one lease")
	assert.GreaterOrEqual(t, c.expiredAgents(deployer), 3.0, "the survivors marked at least the pinned fleet offline")

	viaSurvivor := c.replicas[survivor].Client()
	running := waitExperiment(t, c, viaSurvivor, x.ID, 90*time.Second, apitypes.ExperimentRunning)
	require.Len(t, running.State.Targets, fleetSize)
	variant := map[string]string{}
	for _, tg := range running.State.Targets {
		variant[tg.InstanceUID] = tg.ConfigHash
	}
	c.waitAgents(survivor, 30*time.Second, "experiment configuration applied", func(v apitypes.AgentView) string {
		return runs(variant[v.InstanceUID], fmt.Sprintf("replica-%d", deployer))(v)
	})
	c.checkFleetRuns(variant)

	// Stopped through a survivor: every agent gets its baseline back.
	_, err = viaSurvivor.ExperimentAction(ctx, x.ID, "stop")
	require.NoError(t, err)
	stopped := waitExperiment(t, c, viaSurvivor, x.ID, 60*time.Second, apitypes.ExperimentCancelled)
	assert.True(t, stopped.State.Restored)
	var transitions []string
	for _, ev := range stopped.Events {
		if ev.To != "" {
			transitions = append(transitions, string(ev.From)+"→"+string(ev.To))
		}
	}
	assert.Equal(t, []string{"→pending", "pending→deploying", "deploying→running", "running→cancelled"}, transitions,
		"each transition once, whichever replica made it")
	c.waitAgents(survivor, 60*time.Second, "baseline restored", func(v apitypes.AgentView) string {
		return runs(before[v.InstanceUID], fmt.Sprintf("replica-%d", deployer))(v)
	})
	c.checkFleetRuns(before)

	// (b) The killed replica comes back; the replica handling a promote
	// dies as the candidate reaches the first agent.
	c.replicas[deployer].Restart()
	completeForPromote(t, c.dsn, x.ID)
	promoter := (deployer + 2) % 3
	survivor = deployer
	promoted := make(chan error, 1)
	// All at once: this is about replicas, not waves, whose gates wait a
	// minute of own telemetry each (experiments' tests cover them).
	allAtOnce := apitypes.PromoteRequest{Waves: []float64{100}}
	go func() {
		_, err := c.replicas[promoter].Client().PromoteExperiment(context.WithoutCancel(ctx), x.ID, allAtOnce)
		promoted <- err
	}()
	harness.Eventually(t, ctx, 30*time.Second, func() (bool, string) {
		for _, a := range c.fleet.Agents() {
			if a.ConfigHash != "" && a.ConfigHash != before[a.InstanceUID] {
				return true, ""
			}
		}
		return false, "no agent has received the candidate"
	}, c.logs)
	killedAt = time.Now()
	c.replicas[promoter].Kill()
	t.Logf("killed replica-%d, the promoter, as the candidate reached the first agent", promoter)
	select {
	case err = <-promoted:
	case <-time.After(30 * time.Second):
		require.FailNow(t, "the promote request neither answered nor failed")
	}
	if err != nil {
		// What an operator does when the replica answering dies: ask
		// another. It is promoted once, whichever replica stored it.
		t.Logf("promote through the killed replica: %v; asking replica-%d", err, survivor)
		_, err = c.replicas[survivor].Client().PromoteExperiment(ctx, x.ID, allAtOnce)
		if err != nil {
			assert.True(t, apiclient.IsStatus(err, 409), "promote again: %v", err)
		}
		t.Logf("promote again: %v", err)
	}
	took = c.waitDeadReplicaReleased(survivor, promoter, killedAt)
	t.Logf("replica-%d's agents released %s after the kill", promoter, took.Round(10*time.Millisecond))
	assert.Less(t, took, lease+lease/3+2*time.Second, "within about one lease")

	candidate := map[string]string{}
	final := c.waitAgents(survivor, 3*time.Minute, "candidate promoted", func(v apitypes.AgentView) string {
		if v.Assignment == nil || v.Assignment.Pipeline != "topk-rollup" {
			return "not assigned the candidate"
		}
		return runs(v.Assignment.ConfigHash, fmt.Sprintf("replica-%d", promoter))(v)
	})
	for uid, v := range final {
		candidate[uid] = v.Assignment.ConfigHash
		assert.NotEqual(t, before[uid], v.Assignment.ConfigHash)
	}
	c.checkFleetRuns(candidate)
	done, err := c.replicas[survivor].Client().Experiment(ctx, x.ID)
	require.NoError(t, err)
	assert.True(t, done.State.Promoted)
}

func waitExperiment(t *testing.T, c *cluster, api *apiclient.Client, id string, timeout time.Duration, status apitypes.ExperimentStatus) apitypes.Experiment {
	t.Helper()
	var x apitypes.Experiment
	harness.Eventually(t, t.Context(), timeout, func() (bool, string) {
		var err error
		if x, err = api.Experiment(t.Context(), id); err != nil {
			return false, err.Error()
		}
		return x.Status == status, fmt.Sprintf("experiment is %s (error %q), want %s", x.Status, x.State.Error, status)
	}, c.logs)
	return x
}

// completeForPromote turns the stopped experiment into a completed one that
// passed, as if its analysis had run; a promote reads only the status and
// the targets, which the real deploy recorded. Simulated agents export
// cost_meter figures an analysis passes (BenchmarkFleetExperiment), but it
// needs own telemetry over a whole window, in practice three minutes
// (MinDuration's last minute is cut short at its end): that would triple
// this test and replace the stop through a survivor it checks.
func completeForPromote(t *testing.T, dsn, id string) {
	t.Helper()
	st, err := pgstore.Open(t.Context(), dsn)
	require.NoError(t, err)
	defer st.Close()
	e, err := st.GetExperiment(t.Context(), id)
	require.NoError(t, err)
	require.Equal(t, apitypes.ExperimentCancelled, e.Status)
	var state map[string]any
	require.NoError(t, json.Unmarshal(e.State, &state))
	state["verdict"] = "pass"
	e.State, err = json.Marshal(state)
	require.NoError(t, err)
	e.Status = apitypes.ExperimentCompleted
	_, err = st.UpdateExperiment(t.Context(), e)
	require.NoError(t, err)
}

// startBalancer is a TCP load balancer in front of the replicas' OpAMP
// listeners, as a Kubernetes Service is: each connection goes to the next
// replica that accepts it, and ends when either side ends, so an agent
// whose replica died reconnects to another. It returns its address.
func startBalancer(t *testing.T, backends []string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu    sync.Mutex
		next  int
		conns = map[net.Conn]bool{}
		wg    sync.WaitGroup
	)
	track := func(c net.Conn, add bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if add && conns == nil {
			return false
		}
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
		return true
	}
	dial := func() net.Conn {
		for range backends {
			mu.Lock()
			addr := backends[next%len(backends)]
			next++
			mu.Unlock()
			if up, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				return up
			}
		}
		return nil
	}
	forward := func(down net.Conn) {
		defer down.Close()
		up := dial()
		if up == nil || !track(up, true) {
			return
		}
		defer func() { track(up, false); _ = up.Close() }()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, down); done <- struct{}{} }()
		go func() { _, _ = io.Copy(down, up); done <- struct{}{} }()
		<-done
	}
	wg.Go(func() {
		for {
			down, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			wg.Go(func() { forward(down) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		conns = nil
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}
