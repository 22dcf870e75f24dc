package fleetsim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// TestAnExperimentsAgentsExportTheirVariantsFigures runs a paired
// experiment over a small fleet: while it runs, every agent's own
// telemetry, as the server stores it, carries the cost_meter figures of
// both variants, the candidate's the smaller; once it is stopped, the
// agents are back on the baseline's meter alone.
func TestAnExperimentsAgentsExportTheirVariantsFigures(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	o := s.options("exp", 3)
	o.TelemetryInterval = 200 * time.Millisecond
	// The server holds back a configuration it sent less than 15 s ago
	// (ResendAfter), even with another sent since: the restore, seconds
	// after the assignment, reaches the agents on a heartbeat after that.
	o.Heartbeat = time.Second
	f := start(t, o)
	require.NoError(t, f.WaitConnected(within(t, 30*time.Second), 3))
	require.Eventually(t, func() bool {
		yes := true
		online, err := s.admin.AllAgents(t.Context(), apiclient.ListAgentsOptions{Selector: fleetsim.FleetLabel + "=exp", Online: &yes})
		return err == nil && len(online) == 3
	}, 30*time.Second, 50*time.Millisecond, "the inventory lists the fleet online")
	before := s.assign(t, "exp")
	_, err := f.WaitOutcomes(within(t, 30*time.Second), before)
	require.NoError(t, err)
	for _, a := range f.Agents() {
		assert.Equal(t, []string{apitypes.VariantBaseline}, a.CostMeters, "the baseline pipeline's meter")
	}

	ctx := t.Context()
	x, err := s.admin.CreateExperiment(ctx, apitypes.ExperimentSpec{
		Name: "fleetsim", Targets: apitypes.Targets{Selector: fleetsim.FleetLabel + "=exp"}, Mode: apitypes.ModePaired,
		Baseline: apitypes.Variant{Current: true}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Duration: apitypes.Duration(apitypes.MinDuration), SuccessCriteria: apitypes.Criteria{MinSeriesReduction: 0.5},
	}, true)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		x, err = s.admin.Experiment(ctx, x.ID)
		return err == nil && x.Status == apitypes.ExperimentRunning
	}, 30*time.Second, 50*time.Millisecond, "the experiment deployed")
	for _, a := range f.Agents() {
		assert.Equal(t, []string{apitypes.VariantBaseline, apitypes.VariantCandidate}, a.CostMeters, a.HostName)
	}
	for uid := range before {
		require.Eventually(t, func() bool {
			base, cand := lastSample(t, s, uid, apitypes.VariantBaseline), lastSample(t, s, uid, apitypes.VariantCandidate)
			return cand > 0 && base > cand
		}, 10*time.Second, 100*time.Millisecond, "agent %s exports both variants' active series, the candidate's fewer", uid)
	}

	_, err = s.admin.ExperimentAction(ctx, x.ID, "stop")
	require.NoError(t, err)
	_, err = f.WaitOutcomes(within(t, 30*time.Second), before)
	require.NoError(t, err, "the previous configuration restored")
	for _, a := range f.Agents() {
		assert.Equal(t, []string{apitypes.VariantBaseline}, a.CostMeters, a.HostName)
	}
}

// lastSample is the latest active-series sample the server holds of an
// agent's variant, 0 if none (or the server did not answer).
func lastSample(t *testing.T, s *server, uid, variant string) float64 {
	samples, err := s.admin.AgentMetrics(t.Context(), uid, fleetsim.MetricCostMeterActiveSeries, variant, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil || len(samples) == 0 {
		return 0
	}
	return samples[len(samples)-1].Value
}
