package wavegate

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)

// gateStore holds agent a1, APPLIED and healthy on hash h1.
func gateStore(t *testing.T) store.Store {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1", Health: &apitypes.Health{Healthy: true},
		RemoteConfig: apitypes.RemoteConfigStatus{Hash: "h1", Status: apitypes.ConfigStatusApplied}}))
	return st
}

func sample(t *testing.T, st store.Store, name string, at time.Time, v float64) {
	t.Helper()
	require.NoError(t, st.PutSamples(t.Context(), []apitypes.Sample{{InstanceUID: "a1", Name: name, Minute: at, Value: v}}))
}

func noResume() (bool, error) { return false, nil }

func TestCheckWithoutARetentionCriterionPassesOnOwnTelemetry(t *testing.T) {
	t.Parallel()
	st := gateStore(t)
	four := 4.0
	a := &apitypes.RolloutAgent{InstanceUID: "a1", ConfigHash: "h1", CriticalBefore: &four}
	crit := Criteria{What: "the new configuration"}
	changed, why, err := Check(t.Context(), st, a, crit, t0, noResume)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, "no own telemetry since applying yet", why)
	sample(t, st, "phoenix_cost_bytes", t0, 1) // the minute of the apply: maybe the old collector's
	_, why, err = Check(t.Context(), st, a, crit, t0.Add(time.Minute), noResume)
	require.NoError(t, err)
	assert.Equal(t, "no own telemetry since applying yet", why)
	sample(t, st, "phoenix_cost_bytes", t0.Add(time.Minute), 1)
	_, why, err = Check(t.Context(), st, a, crit, t0.Add(2*time.Minute), noResume)
	require.NoError(t, err)
	assert.Empty(t, why)
	assert.True(t, a.Passed, "no critical-process count needed")
}

func TestCheckWithARetentionCriterionComparesCriticalProcesses(t *testing.T) {
	t.Parallel()
	st := gateStore(t)
	four, one := 4.0, 1.0
	a := &apitypes.RolloutAgent{InstanceUID: "a1", ConfigHash: "h1", CriticalBefore: &four, AppliedAt: t0, Healthy: true}
	crit := Criteria{What: "the candidate", MinCriticalRetention: &one}
	sample(t, st, "phoenix_cost_bytes", t0.Add(time.Minute), 1)
	_, why, err := Check(t.Context(), st, a, crit, t0.Add(2*time.Minute), noResume)
	require.NoError(t, err)
	assert.Equal(t, "no critical-process count in its own telemetry yet", why)
	sample(t, st, analysis.SeriesCriticalProcesses, t0.Add(time.Minute), 2)
	_, _, err = Check(t.Context(), st, a, crit, t0.Add(2*time.Minute), noResume)
	var failed Failure
	require.ErrorAs(t, err, &failed)
	assert.Equal(t, "agent a1 () keeps 2 of its 4 critical processes (retention 50.0%, 100.0% required)", err.Error())
}

func TestCheckFailures(t *testing.T) {
	t.Parallel()
	st := gateStore(t)
	crit := Criteria{What: "the new configuration"}
	a := &apitypes.RolloutAgent{InstanceUID: "nobody", ConfigHash: "h1"}
	changed, why, err := Check(t.Context(), st, a, crit, t0, noResume)
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Empty(t, why, "an agent gone from the inventory is not waited for")
	assert.True(t, a.Removed)

	a = &apitypes.RolloutAgent{InstanceUID: "a1", ConfigHash: "h2"}
	resent := false
	_, why, err = Check(t.Context(), st, a, crit, t0, func() (bool, error) { resent = true; return true, nil })
	require.NoError(t, err)
	assert.Equal(t, "not applied yet", why)
	assert.True(t, resent, "an agent not on the wave's configuration is offered it again")

	a = &apitypes.RolloutAgent{InstanceUID: "a1", ConfigHash: "h2", AppliedAt: t0}
	_, _, err = Check(t.Context(), st, a, crit, t0, noResume)
	assert.True(t, IsFailure(err))
	assert.EqualError(t, err, "agent a1 () no longer runs the new configuration (it reports h1 APPLIED)")
}

func TestCheckWaveTimesOut(t *testing.T) {
	t.Parallel()
	st := gateStore(t)
	w := &apitypes.RolloutWave{State: apitypes.WaveRolling, StartedAt: t0, Agents: []apitypes.RolloutAgent{{InstanceUID: "a1", ConfigHash: "h1"}}}
	changed, err := CheckWave(t.Context(), st, w, Criteria{What: "x"}, time.Minute, t0, func(apitypes.RolloutAgent) (bool, error) { return false, nil })
	require.NoError(t, err)
	assert.True(t, changed)
	assert.Equal(t, apitypes.WaveGated, w.State)
	assert.Equal(t, "waiting: agent a1 (): no own telemetry since applying yet", w.Reason)
	changed, err = CheckWave(t.Context(), st, w, Criteria{What: "x"}, time.Minute, t0.Add(30*time.Second), nil)
	require.NoError(t, err)
	assert.False(t, changed, "nothing learnt, nothing to save")
	_, err = CheckWave(t.Context(), st, w, Criteria{What: "x"}, time.Minute, t0.Add(2*time.Minute), nil)
	assert.EqualError(t, err, "1 agent(s) did not pass the gate within 1m0s: agent a1 (): no own telemetry since applying yet")
}

func TestPlan(t *testing.T) {
	t.Parallel()
	var sizes []int
	for _, w := range Plan([]float64{25, 50, 100}, 4) {
		sizes = append(sizes, w.Size)
	}
	assert.Equal(t, []int{1, 1, 2}, sizes)
	assert.Len(t, Plan([]float64{1, 10, 50, 100}, 1), 1, "one agent, one wave")
	assert.Equal(t, "nothing", ShortHash(""))
}

func TestCriticalBeforeReadsEachAgentsLatestMinute(t *testing.T) {
	t.Parallel()
	st := gateStore(t)
	crit := analysis.SeriesCriticalProcesses
	require.NoError(t, st.PutSamples(t.Context(), []apitypes.Sample{
		{InstanceUID: "a1", Name: crit, Variant: apitypes.VariantBaseline, Minute: t0.Add(-2 * time.Minute), Value: 9},
		// The latest minute wins, its largest variant (a meter per pipeline).
		{InstanceUID: "a1", Name: crit, Variant: apitypes.VariantBaseline, Minute: t0.Add(-time.Minute), Value: 3},
		{InstanceUID: "a1", Name: crit, Variant: apitypes.VariantCandidate, Minute: t0.Add(-time.Minute), Value: 5},
		{InstanceUID: "a1", Name: "otelcol_process_cpu_seconds", Minute: t0, Value: 100},
		{InstanceUID: "a2", Name: crit, Minute: t0, Value: 7},
		// Older than the lookback: sent none lately.
		{InstanceUID: "a3", Name: crit, Minute: t0.Add(-criticalLookback - time.Minute), Value: 1},
		{InstanceUID: "a4", Name: crit, Minute: t0, Value: 8}, // not asked for
	}))
	got, err := CriticalBefore(t.Context(), st, []string{"a1", "a2", "a3", "unknown"}, t0)
	require.NoError(t, err)
	assert.Equal(t, map[string]float64{"a1": 5, "a2": 7}, got)

	got, err = CriticalBefore(t.Context(), st, nil, t0)
	require.NoError(t, err)
	assert.Empty(t, got)
}
