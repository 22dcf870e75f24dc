package fleetbench

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
)

// The experiment's times: as short as a spec allows.
const (
	// measureFor is the measurement window. apitypes.MinDuration's last
	// minute ends at EndsAt, cut short, so only agents that exported in
	// its first seconds have it and the analysis of a whole fleet fails
	// unless the window ends late in its minute; one minute more gives
	// every agent two whole minutes.
	measureFor = apitypes.MinDuration + time.Minute
	// warmup is the shortest: a spec's 0 takes the default minute, and
	// the simulated collectors need none.
	warmup = time.Second
	// experimentTelemetry is the agents' own-telemetry interval: every
	// agent exports in every minute of the window even when a turn is
	// skipped (fleetsim.ErrTelemetryBehind); 500 exports a second at
	// 10,000 agents, with 64 in flight.
	experimentTelemetry = 20 * time.Second
	// pollExperiment is how often the experiment is read, as `phoenix
	// experiment watch` reads it: without its targets, which with their
	// previous configurations are megabytes at 10,000 agents.
	pollExperiment = 2 * time.Second
)

// BenchmarkFleetExperiment runs the experiment lifecycle over the whole
// fleet against `phoenix server` (bin/phoenix), through the API client as
// the CLI does: a paired experiment (the agents' current pipeline against
// topk-rollup) deployed, every agent APPLIED on its variant's
// configuration, the analysis of their own telemetry (fleetsim's cost_meter
// figures) completed, and every agent back on its previous configuration;
// then a second experiment deployed and stopped, with every agent back
// again.
func BenchmarkFleetExperiment(b *testing.B) { onEachStore(b, runExperiment) }

func runExperiment(b *testing.B, opts harness.ServerOptions) {
	ctx := b.Context()
	n := agents(b)
	srv := harness.StartServer(b, opts)
	logf(b, "starting %d agents", n)
	fleet, err := fleetsim.Start(ctx, fleetsim.Options{Count: n, Server: srv.API, OpAMP: srv.OpAMP, EnrollToken: srv.EnrollToken(),
		Rate: connectRate, EnrollConcurrency: 32, ApplyDelay: applyDelay, TelemetryInterval: experimentTelemetry,
		TelemetryConcurrency: 64})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = fleet.Stop(context.WithoutCancel(ctx)) }()
	waitUntil(b, ctx, "every agent online", time.Second, waitLimit, summaryWhere(srv, fleet, onlineCount, func(s fleetsim.Stats) bool { return s.Connected == n }, n))

	// The fleet's current pipeline, which the experiment returns it to.
	selector := fleetsim.FleetLabel + "=" + fleetsim.DefaultFleet
	assigned, err := srv.Client().AssignMany(ctx, apitypes.BulkAssignRequest{Selector: selector,
		AssignRequest: apitypes.AssignRequest{Pipeline: "baseline", Reason: "fleet experiment benchmark"}})
	if err != nil {
		b.Fatal(err)
	}
	previous := map[string]string{}
	for _, r := range assigned {
		previous[r.InstanceUID] = r.ConfigHash
	}
	waitUntil(b, ctx, "every agent APPLIED on its pipeline", time.Second, waitLimit, summaryWhere(srv, fleet, appliedCount, func(s fleetsim.Stats) bool { return s.Applied == n }, n))
	logf(b, "load average with the fleet on its pipeline: %s", loadAverage())

	spec := apitypes.ExperimentSpec{
		Name: "fleet benchmark", Targets: apitypes.Targets{Selector: selector}, Mode: apitypes.ModePaired,
		Baseline: apitypes.Variant{Current: true}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Duration: apitypes.Duration(measureFor), Warmup: apitypes.Duration(warmup),
		DeployTimeout: apitypes.Duration(waitLimit), SuccessCriteria: apitypes.Criteria{MinSeriesReduction: 0.5},
	}
	x := deployExperiment(b, srv, fleet, spec, "")

	// Measured, analysed, and every agent given its configuration back.
	// Read the experiment again only once its window is over.
	time.Sleep(time.Until(x.State.EndsAt))
	logf(b, "load average at the window's end: %s; fleet: %d exports, errors %v", loadAverage(), fleet.Stats().TelemetryExports, fleet.Stats().Errors)
	x = waitExperiment(b, srv, x.ID, waitLimit, apitypes.ExperimentCompleted)
	// The server's own times: the window's end, and the results with the
	// restore under way.
	done := x.State.FinishedAt
	report(b, done.Sub(x.State.EndsAt).Seconds(), "results-after-window-s")
	res, err := srv.Client().ExperimentResults(ctx, x.ID)
	if err != nil {
		b.Fatal(err)
	}
	if !res.Final || res.Results.Targets != n || x.State.Verdict != "pass" {
		b.Fatalf("results: final %v, %d targets of %d, verdict %q", res.Final, res.Results.Targets, n, x.State.Verdict)
	}
	report(b, res.Results.Derived.SeriesReduction.Value, "series-reduction")
	// Targets whose collectors skipped too many exports are left out.
	report(b, float64(res.Results.Excluded), "targets-excluded")
	logf(b, "load average after the analysis: %s", loadAverage())
	waitRestored(b, srv, fleet, previous, done, "restored-")

	// A second experiment, stopped while it runs.
	spec.Name = "fleet benchmark, stopped"
	x = deployExperiment(b, srv, fleet, spec, "stopped-")
	stopped := time.Now()
	if _, err := srv.Client().ExperimentAction(ctx, x.ID, "stop"); err != nil {
		b.Fatal(err)
	}
	report(b, time.Since(stopped).Seconds(), "stop-answered-s")
	waitRestored(b, srv, fleet, previous, stopped, "stop-restored-")
	waitExperiment(b, srv, x.ID, waitLimit, apitypes.ExperimentCancelled)
	logf(b, "load average at the end: %s; fleet errors %v", loadAverage(), fleet.Stats().Errors)
}

// report reports a benchmark metric, and logs it at once, so that a run
// that fails later still shows what it measured.
func report(b *testing.B, value float64, unit string) {
	b.Helper()
	logf(b, "%s: %.3f", unit, value)
	b.ReportMetric(value, unit)
}

// deployExperiment creates and starts an experiment and waits until every
// target runs its variant's configuration, APPLIED (the fleet's view), and
// the experiment runs; it reports how long the API took to answer, the
// agents to apply and the server to see it.
func deployExperiment(b *testing.B, srv *harness.Server, fleet *fleetsim.Fleet, spec apitypes.ExperimentSpec, prefix string) apitypes.Experiment {
	ctx := b.Context()
	start := time.Now()
	x, err := srv.Client().CreateExperiment(ctx, spec, true)
	if err != nil {
		b.Fatal(err)
	}
	report(b, time.Since(start).Seconds(), prefix+"deploy-answered-s")
	x = waitExperiment(b, srv, x.ID, waitLimit, apitypes.ExperimentDeploying, apitypes.ExperimentRunning)
	// Once, with the targets: what each must run.
	if x, err = srv.Client().Experiment(ctx, x.ID); err != nil {
		b.Fatal(err)
	}
	want := make(map[string]string, len(x.State.Targets))
	for _, t := range x.State.Targets {
		want[t.InstanceUID] = t.ConfigHash
	}
	if len(want) != fleet.Options().Count {
		b.Fatalf("the experiment targets %d agents of %d", len(want), fleet.Options().Count)
	}
	wctx, cancel := context.WithTimeout(ctx, waitLimit)
	defer cancel()
	out, err := fleet.WaitOutcomes(wctx, want)
	if err != nil || out.Failed > 0 {
		b.Fatalf("every agent APPLIED on its variant's configuration: %+v, %v", out, err)
	}
	report(b, time.Since(start).Seconds(), prefix+"variant-applied-s")
	x = waitExperiment(b, srv, x.ID, waitLimit, apitypes.ExperimentRunning)
	report(b, time.Since(start).Seconds(), prefix+"running-s")
	return x
}

// waitRestored waits until every agent runs its previous configuration
// again, APPLIED, as the fleet and then the API see it, and reports how
// long after since each took.
func waitRestored(b *testing.B, srv *harness.Server, fleet *fleetsim.Fleet, previous map[string]string, since time.Time, prefix string) {
	ctx, cancel := context.WithTimeout(b.Context(), waitLimit)
	defer cancel()
	if out, err := fleet.WaitOutcomes(ctx, previous); err != nil || out.Failed > 0 {
		b.Fatalf("every agent back on its configuration: %+v, %v", out, err)
	}
	report(b, time.Since(since).Seconds(), prefix+"fleet-s")
	// Followed as a user would, by the summary: every agent assigned its
	// pipeline again and APPLIED on it. The listing after it checks each
	// agent runs the very configuration it had, outside the figure.
	backOnBaseline := func(s apitypes.AgentSummary) int { return min(s.Pipelines["baseline"], appliedCount(s)) }
	waitUntil(b, ctx, "every agent back on its pipeline, APPLIED, in the API", time.Second, waitLimit,
		summaryWhere(srv, nil, backOnBaseline, nil, len(previous)))
	report(b, time.Since(since).Seconds(), prefix+"api-s")
	back := func(a apitypes.AgentView) bool { return applied(a) && a.RemoteConfig.Hash == previous[a.InstanceUID] }
	if ok, got := agentsWhere(srv, back, len(previous)); !ok {
		b.Fatalf("every agent back on its configuration: %s", got)
	}
}

// waitExperiment waits until the experiment has one of the statuses, and
// returns it without its targets; one that failed ends the benchmark with
// its error.
func waitExperiment(b *testing.B, srv *harness.Server, id string, limit time.Duration, status ...apitypes.ExperimentStatus) apitypes.Experiment {
	b.Helper()
	var x apitypes.Experiment
	waitUntil(b, b.Context(), fmt.Sprintf("the experiment %v", status), pollExperiment, limit, func() (bool, string) {
		var err error
		if x, err = srv.Client().ExperimentWith(b.Context(), id, apiclient.ExperimentOptions{WithoutTargets: true}); err != nil {
			return false, err.Error()
		}
		if x.Status == apitypes.ExperimentFailed {
			b.Fatalf("the experiment failed: %s", x.State.Error)
		}
		for _, s := range status {
			if x.Status == s {
				return true, ""
			}
		}
		if sum := x.State.TargetSummary; sum != nil {
			return false, fmt.Sprintf("%s, applied %d/%d", x.Status, sum.Applied, sum.Total)
		}
		return false, string(x.Status)
	})
	return x
}

// loadAverage is the machine's 1, 5 and 15-minute load averages.
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}
