// Package experiments tests A/B experiments end to end: the real server,
// supervisors, collectors and simulated load on this host.
package experiments

import (
	"fmt"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/testenv"
)

// collector parameters for every configuration here: frequent scrapes, no
// system metrics, no backend.
var shared = map[string]any{"collection_interval": "5s", "system_metrics": false, "destination": "none"}

// startLoad runs phoenix loadsim with a small population including critical
// daemons, for the duration of the test.
func startLoad(t *testing.T) {
	t.Helper()
	cmd := exec.Command(testenv.Binary(t, "phoenix"), "loadsim", "run", "--profile", "custom", "--processes", "60",
		"--daemons", "4", "--critical", "postgres,nginx", "--starts-per-second", "0.2", "--busy-fraction", "0.1",
		"--busy-cores", "0.2", "--idle-cores", "0.002", "--duration", "15m", "--progress", "1h")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
}

// assignBaseline gives an agent the baseline pipeline and waits until it runs.
func assignBaseline(t *testing.T, c *apiclient.Client, a *harness.Agent) apitypes.Assignment {
	t.Helper()
	asg, err := c.AssignAgent(t.Context(), a.UID, apitypes.AssignRequest{Pipeline: "baseline", Parameters: shared})
	require.NoError(t, err)
	a.WaitFor(t.Context(), c, 90*time.Second, "baseline applied", func(v apitypes.AgentView) bool {
		return v.RemoteConfig.Hash == asg.ConfigHash && v.RemoteConfig.Status == apitypes.ConfigStatusApplied
	})
	return asg
}

func spec(name, selector string, mode apitypes.Mode, duration time.Duration) apitypes.ExperimentSpec {
	return apitypes.ExperimentSpec{
		Name: name, Targets: apitypes.Targets{Selector: selector}, Mode: mode,
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Parameters: shared, Duration: apitypes.Duration(duration), Warmup: apitypes.Duration(20 * time.Second),
		DeployTimeout:   apitypes.Duration(2 * time.Minute),
		SuccessCriteria: apitypes.Criteria{MinSeriesReduction: 0.5},
	}
}

// waitStatus polls an experiment until it reaches one of the statuses.
func waitStatus(t *testing.T, c *apiclient.Client, id string, timeout time.Duration, log func() string, statuses ...apitypes.ExperimentStatus) apitypes.Experiment {
	t.Helper()
	var x apitypes.Experiment
	harness.Eventually(t, t.Context(), timeout, func() (bool, string) {
		var err error
		if x, err = c.Experiment(t.Context(), id); err != nil {
			return false, err.Error()
		}
		for _, s := range statuses {
			if x.Status == s {
				return true, ""
			}
		}
		return false, fmt.Sprintf("experiment is %s (error %q), want %v", x.Status, x.State.Error, statuses)
	}, log)
	return x
}

func results(t *testing.T, c *apiclient.Client, id string) apitypes.Results {
	t.Helper()
	view, err := c.ExperimentResults(t.Context(), id)
	require.NoError(t, err)
	require.True(t, view.Final)
	return view.Results
}

// TestPairedExperimentSurvivesRestartThenPromoteAndRollback runs the main
// loop with two candidates beside the baseline, in one collector from one
// scrape: a paired experiment that the server's crash does not disturb,
// non-zero cost_meter figures for each, every critical process kept, a
// large series reduction, the candidates ranked and the cheapest passing
// one recommended; then promoting it by name and rolling back change what
// the agent runs.
func TestPairedExperimentSurvivesRestartThenPromoteAndRollback(t *testing.T) {
	ctx := t.Context()
	startLoad(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	c := srv.Client()
	agent := harness.StartAgent(t, srv, harness.AgentOptions{Name: "paired", Labels: map[string]string{"env": "exp"}})
	before := assignBaseline(t, c, agent)
	logs := func() string { return srv.Log() + agent.Log() }

	sp := spec("paired e2e", "env=exp", apitypes.ModePaired, 2*time.Minute)
	sp.Candidate = apitypes.Variant{}
	sp.Candidates = []apitypes.NamedVariant{
		{Pipeline: "topk-rollup"}, // the catalog's default k
		{Pipeline: "topk-rollup", Parameters: map[string]any{"k": 3}},
	}
	x, err := c.CreateExperiment(ctx, sp, true)
	require.NoError(t, err)
	names := x.Spec.CandidateNames()
	require.Equal(t, []string{"topk-rollup", "topk-rollup-k3"}, names, "named after pipeline and parameters")
	running := waitStatus(t, c, x.ID, 2*time.Minute, logs, apitypes.ExperimentRunning)
	require.Len(t, running.State.Targets, 1)
	assert.Equal(t, "both", running.State.Targets[0].Variant)
	agent.WaitFor(ctx, c, 30*time.Second, "every candidate running beside the baseline", func(v apitypes.AgentView) bool {
		return strings.Contains(v.EffectiveConfig, "metrics/topk-rollup-k3") && strings.Contains(v.EffectiveConfig, "cost_meter/topk-rollup:") &&
			strings.Contains(v.EffectiveConfig, "metrics/baseline")
	})

	// The server crashes mid-run; the restarted one resumes the experiment.
	time.Sleep(30 * time.Second)
	srv.Kill()
	srv.Restart()
	done := waitStatus(t, c, x.ID, 5*time.Minute, logs, apitypes.ExperimentCompleted, apitypes.ExperimentFailed)
	require.Equal(t, apitypes.ExperimentCompleted, done.Status, "error: %s", done.State.Error)
	assert.True(t, done.State.Restored)

	r := results(t, c, x.ID)
	base, ok := r.Variant(apitypes.VariantBaseline)
	require.True(t, ok)
	assert.Positive(t, base.DatapointsPerMinute)
	assert.Positive(t, base.ActiveSeries)
	assert.Positive(t, base.CriticalProcesses, "loadsim's postgres and nginx are critical by the default rules")
	require.Len(t, r.Candidates, 2)
	for i, cr := range r.Candidates {
		assert.Equal(t, i+1, cr.Rank)
		assert.Contains(t, names, cr.Name)
		assert.Positive(t, cr.Figures.DatapointsPerMinute, cr.Name)
		assert.InDelta(t, 1.0, cr.Derived.CriticalRetention, 1e-9, "%s must keep every critical process", cr.Name)
		assert.Greater(t, cr.Derived.SeriesReduction.Value, 0.5, cr.Name)
		assert.True(t, cr.Verdict.Pass, "%s: %+v", cr.Name, cr.Verdict.Checks)
		require.NotNil(t, cr.Fidelity, "%s: the collector's fidelity figures", cr.Name)
		require.NotNil(t, cr.Fidelity.CPUCoverage, cr.Name)
		// Paired in the collector: its cost_meters found each other.
		require.NotNil(t, cr.Fidelity.BlindSpotsPerHour, "%s: blind spots measured: %v", cr.Name, cr.Fidelity.Notes)
		require.NotNil(t, cr.Fidelity.NotableProcessesPerHour, cr.Name)
		require.NotEmpty(t, cr.Costs, cr.Name)
		t.Logf("rank %d %s: series reduction %.1f%% (%.0f → %.0f active series), CPU coverage %.1f%%, %s $%.2f/month",
			cr.Rank, cr.Name, 100*cr.Derived.SeriesReduction.Value, base.ActiveSeries, cr.Figures.ActiveSeries,
			100**cr.Fidelity.CPUCoverage, cr.Costs[0].Model.Name, cr.Costs[0].Variants[1].Monthly)
	}
	// Both pass: the cheaper one is recommended, and it is the one with
	// fewer series (k=3).
	first, second := r.Candidates[0], r.Candidates[1]
	assert.Equal(t, first.Name, r.Recommended)
	assert.LessOrEqual(t, first.Costs[0].Variants[1].Monthly, second.Costs[0].Variants[1].Monthly)
	assert.Less(t, first.Figures.ActiveSeries, second.Figures.ActiveSeries)
	top, ok := r.Variant(first.Name)
	require.True(t, ok, "the top-level figures are the first ranked's, under its name")
	assert.Equal(t, first.Figures.ActiveSeries, top.ActiveSeries)
	assert.Equal(t, "pass", done.State.Verdict)

	// Back on its previous configuration after the experiment.
	agent.WaitFor(ctx, c, 90*time.Second, "restored to the baseline", func(v apitypes.AgentView) bool {
		return v.RemoteConfig.Hash == before.ConfigHash && v.RemoteConfig.Status == apitypes.ConfigStatusApplied &&
			!strings.Contains(v.EffectiveConfig, "process_topk")
	})

	// Promote names the candidate: without a name it is refused.
	_, err = c.ExperimentAction(ctx, x.ID, "promote")
	require.Error(t, err)
	assert.True(t, apiclient.IsStatus(err, 400), "promote without a candidate: %v", err)
	_, err = c.PromoteExperiment(ctx, x.ID, apitypes.PromoteRequest{Candidate: r.Recommended})
	require.NoError(t, err)
	wantK := fmt.Sprint(first.Parameters["k"])
	agent.WaitFor(ctx, c, 90*time.Second, "candidate promoted", func(v apitypes.AgentView) bool {
		return v.Assignment != nil && v.Assignment.Pipeline == "topk-rollup" && v.Drift.State == apitypes.DriftInSync &&
			fmt.Sprint(v.Assignment.Parameters["k"]) == wantK &&
			strings.Contains(v.EffectiveConfig, "process_topk") && strings.Contains(v.EffectiveConfig, "process_rollup")
	})
	// The promote's one wave passes its gate on the collector's own
	// telemetry: applied, healthy, reporting, critical processes kept.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		y, err := c.Experiment(ctx, x.ID)
		require.NoError(t, err)
		require.NotNil(t, y.State.Rollout)
		if y.State.Rollout.State == apitypes.RolloutCompleted {
			break
		}
		require.Equal(t, apitypes.RolloutRolling, y.State.Rollout.State, "rollout: %s\n%s", y.State.Rollout.Reason, logs())
		require.True(t, time.Now().Before(deadline), "the rollout's gate did not pass in 3m: %+v\n%s", y.State.Rollout.Waves, logs())
		time.Sleep(2 * time.Second)
	}

	// Rollback: what it had before the experiment.
	_, err = c.ExperimentAction(ctx, x.ID, "rollback")
	require.NoError(t, err)
	agent.WaitFor(ctx, c, 90*time.Second, "rolled back", func(v apitypes.AgentView) bool {
		return v.Assignment != nil && v.Assignment.ConfigHash == before.ConfigHash && v.Drift.State == apitypes.DriftInSync &&
			!strings.Contains(v.EffectiveConfig, "process_topk")
	})

	// The report renders with the verdict.
	var page strings.Builder
	require.NoError(t, c.ExperimentReport(ctx, x.ID, &page))
	assert.Contains(t, page.String(), "paired e2e")
	assert.Contains(t, page.String(), "<svg")
	assert.Contains(t, page.String(), `id="chart-candidates"`, "the cost against CPU coverage chart")
}

// TestSplitExperimentWithTwoAgents divides two agents into cohorts.
func TestSplitExperimentWithTwoAgents(t *testing.T) {
	ctx := t.Context()
	startLoad(t)
	srv := harness.StartServer(t, harness.ServerOptions{})
	c := srv.Client()
	a1 := harness.StartAgent(t, srv, harness.AgentOptions{Name: "split-1", Labels: map[string]string{"env": "split"}})
	a2 := harness.StartAgent(t, srv, harness.AgentOptions{Name: "split-2", Labels: map[string]string{"env": "split"}})
	assignBaseline(t, c, a1)
	assignBaseline(t, c, a2)
	logs := func() string { return srv.Log() + a1.Log() + a2.Log() }

	x, err := c.CreateExperiment(ctx, spec("split e2e", "env=split", apitypes.ModeSplit, 2*time.Minute), true)
	require.NoError(t, err)
	done := waitStatus(t, c, x.ID, 6*time.Minute, logs, apitypes.ExperimentCompleted, apitypes.ExperimentFailed)
	require.Equal(t, apitypes.ExperimentCompleted, done.Status, "error: %s", done.State.Error)
	variants := map[string]bool{}
	for _, tg := range done.State.Targets {
		variants[tg.Variant] = true
	}
	assert.Equal(t, map[string]bool{"baseline": true, "candidate": true}, variants, "one cohort per variant")

	r := results(t, c, x.ID)
	base, _ := r.Variant(apitypes.VariantBaseline)
	cand, _ := r.Variant(apitypes.VariantCandidate)
	require.NotNil(t, base.CPUCores, "split mode compares collector CPU")
	require.NotNil(t, cand.CPUCores)
	assert.Positive(t, *base.CPUCores)
	assert.Positive(t, base.ActiveSeries)
	assert.Less(t, cand.ActiveSeries, base.ActiveSeries)
}

// TestCandidateThatCannotApplyFailsAndRestores: a configuration that
// validates but cannot start (its Prometheus port is taken) fails the
// experiment while deploying, and the agent gets its previous configuration.
func TestCandidateThatCannotApplyFailsAndRestores(t *testing.T) {
	ctx := t.Context()
	srv := harness.StartServer(t, harness.ServerOptions{})
	c := srv.Client()
	agent := harness.StartAgent(t, srv, harness.AgentOptions{Name: "failing", Labels: map[string]string{"env": "fail"}})
	before := assignBaseline(t, c, agent)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()

	s := spec("failing e2e", "env=fail", apitypes.ModePaired, 2*time.Minute)
	s.Parameters = map[string]any{"collection_interval": "5s", "system_metrics": false,
		"destination": "prometheus", "prometheus_endpoint": taken.Addr().String()}
	x, err := c.CreateExperiment(ctx, s, true)
	require.NoError(t, err)
	done := waitStatus(t, c, x.ID, 3*time.Minute, func() string { return srv.Log() + agent.Log() },
		apitypes.ExperimentFailed, apitypes.ExperimentCompleted)
	require.Equal(t, apitypes.ExperimentFailed, done.Status)
	assert.Contains(t, done.State.Error, "could not apply")
	assert.True(t, done.State.Restored)
	agent.WaitFor(ctx, c, 90*time.Second, "restored", func(v apitypes.AgentView) bool {
		return v.Assignment != nil && v.Assignment.ConfigHash == before.ConfigHash
	})
	_, err = c.ExperimentResults(ctx, x.ID)
	assert.True(t, apiclient.IsStatus(err, 409), "a failed experiment has no results: %v", err)
}
