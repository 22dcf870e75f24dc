package controlplane

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
)

const (
	// lease is every replica's --presence-lease: the shortest allowed.
	lease = 3 * time.Second
	// applyDelay makes a configuration take up to this long to apply, so a
	// deploy or a promote is still under way when a replica is killed.
	applyDelay = 6 * time.Second
	fleetSize  = 30
	fleetName  = "kill"
	// The promoted experiment runs on a fleet of its own, which reports own
	// telemetry, so its analysis runs on real samples while the first
	// experiment is deployed and stopped.
	promoSize         = 10
	promoName         = "promote"
	telemetryInterval = 10 * time.Second
)

var killParams = map[string]any{"collection_interval": "5s", "system_metrics": false, "destination": "none"}

// TestKilledReplicasDuringDeployAndPromote SIGKILLs replicas of three, on
// one PostgreSQL, in the middle of an experiment's deploy and of a promote.
// The experiments carry on on the survivors, every agent ends on the
// configuration it should run, and the killed replica's agents are released
// within its presence lease: the balanced ones reconnect to another
// replica, the pinned ones are marked offline. The promoted experiment runs
// its whole window and is analysed from its agents' own telemetry while the
// first one is deployed, killed under and stopped.
func TestKilledReplicasDuringDeployAndPromote(t *testing.T) {
	ctx := t.Context()
	c := startCluster(t)
	admin := c.replicas[0].Client()

	// Every agent runs the baseline.
	before := map[string]string{}
	for _, f := range []simFleet{c.fleet, c.promo} {
		results, err := admin.AssignMany(ctx, apitypes.BulkAssignRequest{
			AssignRequest: apitypes.AssignRequest{Pipeline: "baseline", Parameters: killParams}, Selector: f.selector()})
		require.NoError(t, err)
		require.Len(t, results, f.size)
		for _, r := range results {
			before[r.InstanceUID] = r.ConfigHash
		}
		c.waitAgents(f, 0, 60*time.Second, "baseline applied", func(v apitypes.AgentView) string { return runs(before[v.InstanceUID], "")(v) })
	}

	spec := func(name string, f simFleet, warmup time.Duration) apitypes.ExperimentSpec {
		return apitypes.ExperimentSpec{
			Name: name, Targets: apitypes.Targets{Selector: f.selector()}, Mode: apitypes.ModePaired,
			Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
			Parameters: killParams, Duration: apitypes.Duration(apitypes.MinDuration), Warmup: apitypes.Duration(warmup),
			DeployTimeout: apitypes.Duration(2 * time.Minute), SuccessCriteria: apitypes.Criteria{MinSeriesReduction: 0.5},
		}
	}
	// The experiment promoted in (b) starts first and runs to its end.
	toPromote, err := admin.CreateExperiment(ctx, spec("completes, then is promoted", c.promo, 30*time.Second), true)
	require.NoError(t, err)
	waitExperiment(t, c, admin, toPromote.ID, 60*time.Second, apitypes.ExperimentRunning)

	// (a) The replica that deploys the experiment dies while agents apply.
	x, err := admin.CreateExperiment(ctx, spec("kill during deploy", c.fleet, time.Minute), true)
	require.NoError(t, err)
	deployer := -1
	harness.Eventually(t, ctx, 20*time.Second, func() (bool, string) {
		for i, s := range c.replicas {
			if slices.ContainsFunc(strings.Split(s.Log(), "\n"), func(line string) bool {
				return strings.Contains(line, "id="+x.ID) && strings.Contains(line, "to=deploying")
			}) {
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
	c.waitAgents(c.fleet, survivor, 30*time.Second, "experiment configuration applied", func(v apitypes.AgentView) string {
		return runs(variant[v.InstanceUID], fmt.Sprintf("replica-%d", deployer))(v)
	})
	c.checkFleetRuns(c.fleet, variant)

	// Stopped through a survivor: every agent gets its baseline back.
	_, err = viaSurvivor.ExperimentAction(ctx, x.ID, "stop")
	require.NoError(t, err)
	stopped := waitExperiment(t, c, viaSurvivor, x.ID, 60*time.Second, apitypes.ExperimentCancelled)
	assert.True(t, stopped.State.Restored)
	assert.Equal(t, []string{"→pending", "pending→deploying", "deploying→running", "running→cancelled"}, transitions(stopped),
		"each transition once, whichever replica made it")
	c.waitAgents(c.fleet, survivor, 60*time.Second, "baseline restored", func(v apitypes.AgentView) string {
		return runs(before[v.InstanceUID], fmt.Sprintf("replica-%d", deployer))(v)
	})
	c.checkFleetRuns(c.fleet, before)

	// (b) The killed replica comes back. The other experiment ends, is
	// analysed from its agents' own telemetry and restores its targets;
	// the replica handling its promote dies as the candidate reaches the
	// first agent.
	c.replicas[deployer].Restart()
	completed := waitExperiment(t, c, viaSurvivor, toPromote.ID, 4*time.Minute, apitypes.ExperimentCompleted)
	require.NotNil(t, completed.State.Results, "analysed")
	assert.Equal(t, "pass", completed.State.Verdict, "verdict: %+v", completed.State.Results.Verdict)
	assert.Equal(t, promoSize, completed.State.Results.Targets)
	assert.Zero(t, completed.State.Results.Excluded, "excluded: %+v", completed.State.Results.ExcludedAgents)
	assert.Greater(t, completed.State.Results.Derived.SeriesReduction.Value, 0.5)
	assert.Equal(t, []string{"→pending", "pending→deploying", "deploying→running", "running→analyzing", "analyzing→completed"},
		transitions(completed), "each transition once, whichever replica made it")
	c.waitAgents(c.promo, survivor, 60*time.Second, "baseline restored after the analysis", func(v apitypes.AgentView) string {
		return runs(before[v.InstanceUID], fmt.Sprintf("replica-%d", deployer))(v)
	})

	promoter := (deployer + 2) % 3
	survivor = deployer
	promoted := make(chan error, 1)
	// All at once: this is about replicas, not waves, whose gates wait a
	// minute of own telemetry each (experiments' tests cover them).
	allAtOnce := apitypes.PromoteRequest{Waves: []float64{100}}
	go func() {
		_, err := c.replicas[promoter].Client().PromoteExperiment(context.WithoutCancel(ctx), toPromote.ID, allAtOnce)
		promoted <- err
	}()
	harness.Eventually(t, ctx, 30*time.Second, func() (bool, string) {
		for _, a := range c.promo.Agents() {
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
		_, err = c.replicas[survivor].Client().PromoteExperiment(ctx, toPromote.ID, allAtOnce)
		if err != nil {
			assert.True(t, apiclient.IsStatus(err, 409), "promote again: %v", err)
		}
		t.Logf("promote again: %v", err)
	}
	took = c.waitDeadReplicaReleased(survivor, promoter, killedAt)
	t.Logf("replica-%d's agents released %s after the kill", promoter, took.Round(10*time.Millisecond))
	assert.Less(t, took, lease+lease/3+2*time.Second, "within about one lease")

	candidate := map[string]string{}
	final := c.waitAgents(c.promo, survivor, 3*time.Minute, "candidate promoted", func(v apitypes.AgentView) string {
		if v.Assignment == nil || v.Assignment.Pipeline != "topk-rollup" {
			return "not assigned the candidate"
		}
		return runs(v.Assignment.ConfigHash, fmt.Sprintf("replica-%d", promoter))(v)
	})
	for uid, v := range final {
		candidate[uid] = v.Assignment.ConfigHash
		assert.NotEqual(t, before[uid], v.Assignment.ConfigHash)
	}
	c.checkFleetRuns(c.promo, candidate)
	done, err := c.replicas[survivor].Client().Experiment(ctx, toPromote.ID)
	require.NoError(t, err)
	assert.True(t, done.State.Promoted)
	// The stopped experiment's fleet was never touched by the promote.
	c.checkFleetRuns(c.fleet, before)
}

// transitions lists an experiment's status changes as "from→to".
func transitions(x apitypes.Experiment) []string {
	var out []string
	for _, ev := range x.Events {
		if ev.To != "" {
			out = append(out, string(ev.From)+"→"+string(ev.To))
		}
	}
	return out
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
