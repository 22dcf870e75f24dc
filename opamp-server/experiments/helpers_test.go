package experiments

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// analyze is the server's analyzer with the default prices.
var analyze = Analysis(analysis.DefaultPrices())

// meter is what one variant's cost_meter measures per minute.
type meter struct {
	datapoints, bytes, processes, batches float64 // counter increase per minute
	series, critical                      float64 // gauges
}

// putMinute writes one minute of cost_meter figures for one agent, as the
// own-telemetry receiver stores them: counters cumulative since minute 0
// (the collector's start), gauges as they are.
func (f *fixture) putMinute(uid string, minute time.Time, sinceStart int, meters map[string]meter) {
	f.t.Helper()
	var samples []apitypes.Sample
	n := float64(sinceStart)
	for variant, m := range meters {
		for name, v := range map[string]float64{
			analysis.SeriesDatapoints:              m.datapoints * n,
			analysis.SeriesBytes:                   m.bytes * n,
			analysis.SeriesProcessResources:        m.processes * n,
			"otelcol_processor_cost_meter_batches": m.batches * n,
			analysis.SeriesActiveSeries:            m.series,
			analysis.SeriesCriticalProcesses:       m.critical,
		} {
			samples = append(samples, apitypes.Sample{InstanceUID: uid, Name: name, Variant: variant, Minute: minute, Value: v})
		}
	}
	require.NoError(f.t, f.st.PutSamples(f.t.Context(), samples))
}

// catalogAgent registers an online agent whose assignment is a catalog
// pipeline rendered with params, as `phoenix config assign` leaves it.
func (f *fixture) catalogAgent(uid string, labels map[string]string, pipeline string, params map[string]any) apitypes.Assignment {
	f.t.Helper()
	require.NoError(f.t, f.st.UpsertAgent(f.t.Context(), apitypes.Agent{InstanceUID: uid, Labels: labels, Online: true,
		Health: &apitypes.Health{Healthy: true}, FirstSeen: f.now, LastSeen: f.now}))
	r, err := f.c.set.Catalog.Render(f.t.Context(), pipeline, params)
	require.NoError(f.t, err)
	asg, err := f.st.SetAssignment(f.t.Context(), apitypes.Assignment{InstanceUID: uid, Pipeline: r.Pipeline,
		Parameters: r.Params, Config: string(r.Config), Reason: "rollout"})
	require.NoError(f.t, err)
	return asg
}

// deployed creates and starts spec and reconciles once: the experiment is
// deploying (or failed, which the caller checks).
func (f *fixture) deployed(spec apitypes.ExperimentSpec) Experiment {
	f.t.Helper()
	x, err := f.c.Create(f.t.Context(), spec)
	require.NoError(f.t, err)
	_, err = f.c.Start(f.t.Context(), x.ID)
	require.NoError(f.t, err)
	f.c.ReconcileAll(f.t.Context())
	return f.get(x.ID)
}

// running deploys spec and has every target report it applied.
func (f *fixture) running(spec apitypes.ExperimentSpec) Experiment {
	f.t.Helper()
	x := f.deployed(spec)
	require.Equal(f.t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	for _, tg := range x.State.Targets {
		f.report(tg.InstanceUID, tg.ConfigHash, apitypes.ConfigStatusApplied, "")
	}
	f.c.ReconcileAll(f.t.Context())
	x = f.get(x.ID)
	require.Equal(f.t, apitypes.ExperimentRunning, x.Status, x.State.Error)
	return x
}

// assigned returns an agent's current assignment.
func (f *fixture) assigned(uid string) apitypes.Assignment {
	f.t.Helper()
	a, err := f.st.GetAssignment(f.t.Context(), uid)
	require.NoError(f.t, err)
	return a
}

// transitions lists an experiment's status changes, "from→to".
func transitions(x Experiment) []string {
	var out []string
	for _, e := range x.Events {
		if e.To != "" {
			out = append(out, string(e.From)+"→"+string(e.To))
		}
	}
	return out
}

// collectorConfig is a rendered configuration, parsed.
type collectorConfig map[string]any

func parseConfig(t *testing.T, cfg string) collectorConfig {
	t.Helper()
	var m map[string]any // a named map type would be used for nested mappings too
	require.NoError(t, yaml.Unmarshal([]byte(cfg), &m))
	return m
}

// at walks the configuration by keys; nil when a key is missing.
func (c collectorConfig) at(keys ...string) any {
	var cur any = map[string]any(c)
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[k]
	}
	return cur
}
