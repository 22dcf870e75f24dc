package dashboards

import (
	"fmt"
	"maps"
	"net"
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

// TestQueriesAndRulesOnLivePhoenix runs a real Prometheus, configured from
// the shipped prometheus.yml and rules, against a phoenix server and a
// supervised collector, makes every event the dashboards and alerts show
// happen (a paired experiment that completes, one that fails, a FAILED
// configuration, an agent going offline, export failures, a refused OpAMP
// connection), then runs every dashboard query, variable query, recording
// rule and alert through Prometheus's HTTP API.
func TestQueriesAndRulesOnLivePhoenix(t *testing.T) {
	promBin, _ := promBinaries(t)
	ctx := t.Context()
	begin := time.Now()

	srv := harness.StartServer(t, harness.ServerOptions{})
	c := srv.Client()
	sink := startOTLPSink(t)
	paired := startTelemetryAgent(t, srv, "dash-paired", map[string]string{"env": "dash-paired"})
	prom := startPrometheus(t, promBin, strings.TrimPrefix(srv.API, "http://"),
		[]string{paired.Telemetry, startSuffixProbe(t)})
	failing := harness.StartAgent(t, srv, harness.AgentOptions{Name: "dash-failing", Labels: map[string]string{"env": "dash-failing"}})
	logs := func() string { return srv.Log() + paired.Log() + failing.Log() + prom.log() }
	t.Logf("server, agents and Prometheus up after %s", time.Since(begin).Round(time.Second))

	// The agent Prometheus scrapes runs topk-rollup, exporting to a sink that
	// refuses every other request; the other one the baseline.
	params := map[string]any{"collection_interval": "5s", "system_metrics": false,
		"destination": "otlp_http", "otlp_endpoint": sink}
	assignAndWait(t, c, logs,
		assignment{paired.UID, "topk-rollup", params},
		assignment{failing.UID, "baseline", map[string]any{"collection_interval": "5s", "system_metrics": false}})

	// A paired experiment of two whole minutes (measuring starts at a whole
	// minute), and one that fails while deploying because its Prometheus
	// exporter's port is taken: a FAILED configuration.
	run, err := c.CreateExperiment(ctx, apitypes.ExperimentSpec{
		Name: "dashboards", Targets: apitypes.Targets{Selector: "env=dash-paired"}, Mode: apitypes.ModePaired,
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Parameters: params, Duration: apitypes.Duration(apitypes.MinDuration),
		Warmup: apitypes.Duration(10 * time.Second), DeployTimeout: apitypes.Duration(2 * time.Minute),
	}, true)
	require.NoError(t, err)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	doomed, err := c.CreateExperiment(ctx, apitypes.ExperimentSpec{
		Name: "dashboards failing", Targets: apitypes.Targets{Selector: "env=dash-failing"}, Mode: apitypes.ModePaired,
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Parameters: map[string]any{"collection_interval": "5s", "system_metrics": false,
			"destination": "prometheus", "prometheus_endpoint": taken.Addr().String()},
		Duration: apitypes.Duration(apitypes.MinDuration), DeployTimeout: apitypes.Duration(2 * time.Minute),
	}, true)
	require.NoError(t, err)
	refuseOpAMPConnection(t, srv.OpAMP)

	waitExperiment(t, c, doomed.ID, 2*time.Minute, apitypes.ExperimentFailed, logs)
	failing.Stop() // goes offline
	t.Logf("failing experiment done, agent stopped after %s", time.Since(begin).Round(time.Second))
	waitExperiment(t, c, run.ID, 4*time.Minute, apitypes.ExperimentCompleted, logs)
	t.Logf("paired experiment completed after %s", time.Since(begin).Round(time.Second))

	// Prometheus scraped the results and the rules ran on them.
	harness.Eventually(t, ctx, time.Minute, func() (bool, string) {
		for _, expr := range []string{"experiment:phoenix_series_reduction:ratio", "fleet:phoenix_agents_offline:sum > 0"} {
			if n, err := prom.instant(ctx, expr, time.Now()); err != nil || n == 0 {
				return false, fmt.Sprintf("%s: %d series, %v", expr, n, err)
			}
		}
		return true, ""
	}, logs)
	end := time.Now()

	var queries []query
	var variables []variableQuery
	for _, d := range loadDashboards(t) {
		qs, err := d.panelQueries()
		require.NoError(t, err)
		queries = append(queries, qs...)
		vqs, err := d.variableQueries()
		require.NoError(t, err)
		variables = append(variables, vqs...)
	}
	rules := loadRules(t)

	t.Run("metric names exist", func(t *testing.T) {
		names, err := prom.labelValues(ctx, "__name__", "")
		require.NoError(t, err)
		used, err := usedNames(queries, variables, rules)
		require.NoError(t, err)
		for _, name := range slices.Sorted(maps.Keys(used)) {
			assert.Contains(t, names, name, "used by %v", used[name])
		}
		for _, r := range rules {
			if r.Record != "" {
				assert.Contains(t, names, r.Record, "recorded series")
			}
		}
	})
	t.Run("dashboard queries", func(t *testing.T) {
		for _, q := range queries {
			checkQuery(t, prom, q, begin, end)
		}
	})
	t.Run("variable queries", func(t *testing.T) {
		for _, v := range variables {
			values, err := prom.labelValues(ctx, v.label, v.selector)
			if assert.NoError(t, err, v.origin) {
				assert.NotEmpty(t, values, "%s: label_values(%s, %s)", v.origin, v.selector, v.label)
			}
		}
	})
	t.Run("rules", func(t *testing.T) {
		for _, r := range rules {
			// An alert's expression has data when the alert's condition held:
			// each alert's event happened above.
			checkQuery(t, prom, query{origin: r.origin(), expr: r.Expr}, begin, end)
		}
	})
	t.Run("collector endpoint survives assignments", func(t *testing.T) {
		// The catalog's pull reader (telemetry_prometheus_endpoint, from the
		// agent's label) served every configuration the agent ran, labelled
		// with the agent's UID from the server's configurations.
		variants, err := prom.labelValues(ctx, "variant",
			fmt.Sprintf("otelcol_processor_cost_meter_active_series{service_instance_id=%q}", paired.UID))
		require.NoError(t, err)
		assert.ElementsMatch(t, []string{"topk-rollup", "baseline", "candidate"}, variants)
	})
	t.Run("counter suffix normalised", func(t *testing.T) {
		names, err := prom.labelValues(ctx, "__name__", "")
		require.NoError(t, err)
		assert.True(t, slices.Contains(names, probeMetric), "stored without _total")
		assert.False(t, slices.Contains(names, probeMetric+"_total"))
	})
	t.Logf("%d dashboard queries, %d variable queries, %d rules checked; %s in all",
		len(queries), len(variables), len(rules), time.Since(begin).Round(time.Second))
}

// checkQuery runs q the way Grafana does: an instant query for stat and bar
// gauge panels, a range query over the test's lifetime for the rest; either
// must succeed and return at least one series.
func checkQuery(t *testing.T, prom *prometheusServer, q query, start, end time.Time) {
	t.Helper()
	n, err := prom.instant(t.Context(), q.expr, end)
	if !assert.NoError(t, err, "%s: %s", q.origin, q.expr) {
		return
	}
	if !q.instant {
		n, err = prom.rangeSeries(t.Context(), q.expr, start, end)
		if !assert.NoError(t, err, "%s: %s", q.origin, q.expr) {
			return
		}
	}
	assert.Positive(t, n, "%s returned no data: %s", q.origin, q.expr)
}

type assignment struct {
	uid, pipeline string
	params        map[string]any
}

// assignAndWait assigns catalog pipelines, then waits until every agent runs
// its own.
func assignAndWait(t *testing.T, c *apiclient.Client, logs func() string, assignments ...assignment) {
	t.Helper()
	hashes := make([]string, len(assignments))
	for i, a := range assignments {
		asg, err := c.AssignAgent(t.Context(), a.uid, apitypes.AssignRequest{Pipeline: a.pipeline, Parameters: a.params})
		require.NoError(t, err)
		hashes[i] = asg.ConfigHash
	}
	for i, a := range assignments {
		harness.Eventually(t, t.Context(), 90*time.Second, func() (bool, string) {
			v, err := c.GetAgent(t.Context(), a.uid)
			if err != nil {
				return false, err.Error()
			}
			return v.RemoteConfig.Hash == hashes[i] && v.RemoteConfig.Status == apitypes.ConfigStatusApplied,
				fmt.Sprintf("%s: remote config %+v", a.pipeline, v.RemoteConfig)
		}, logs)
	}
}

// waitExperiment waits until an experiment ends, requiring status want.
func waitExperiment(t *testing.T, c *apiclient.Client, id string, timeout time.Duration, want apitypes.ExperimentStatus, logs func() string) {
	t.Helper()
	var x apitypes.Experiment
	harness.Eventually(t, t.Context(), timeout, func() (bool, string) {
		var err error
		if x, err = c.Experiment(t.Context(), id); err != nil {
			return false, err.Error()
		}
		return x.Status.Terminal(), fmt.Sprintf("experiment %s is %s", x.Name, x.Status)
	}, logs)
	require.Equal(t, want, x.Status, "experiment %s: %s", x.Name, x.State.Error)
}
