package analysis

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

const eps = 1e-9

func TestAnalyzePairedOneAgent(t *testing.T) {
	t.Parallel()
	res, err := Analyze(pairedInput(4, pairedAgent("a1", 4, baseline, candidate)))
	require.NoError(t, err)

	require.Len(t, res.Variants, 2)
	b, c := res.Variants[0], res.Variants[1]
	assert.Equal(t, apitypes.VariantBaseline, b.Variant)
	assert.Equal(t, 1, b.Agents)
	assert.InDelta(t, 7000, b.DatapointsPerMinute, eps)
	assert.InDelta(t, 1e6, b.BytesPerMinute, eps)
	assert.InDelta(t, 1000, b.ProcessResourcesPerMinute, eps)
	assert.InDelta(t, 7000, b.ActiveSeries, eps)
	assert.InDelta(t, 10, b.CriticalProcesses, eps)
	assert.Nil(t, b.CPUCores, "collector CPU is shared in paired mode")
	assert.Nil(t, b.MemoryRSSBytes)
	assert.Equal(t, apitypes.VariantCandidate, c.Variant)
	assert.InDelta(t, 700, c.ActiveSeries, eps)

	require.Len(t, res.Agents, 1)
	ag := res.Agents[0]
	assert.Equal(t, minute(0), ag.From)
	assert.Equal(t, minute(3), ag.To)
	assert.Equal(t, 4, ag.Minutes)
	require.Len(t, ag.Variants, 2)
	assert.InDelta(t, 0.9, *ag.SeriesReduction, eps)
	assert.InDelta(t, 0.9, *ag.DatapointsReduction, eps)
	assert.InDelta(t, 0.88, *ag.BytesReduction, eps)
	assert.InDelta(t, 1, *ag.CriticalRetention, eps)

	d := res.Derived
	assert.InDelta(t, 0.9, d.SeriesReduction.Value, eps)
	assert.Nil(t, d.SeriesReduction.Interval, "no interval from one agent")
	assert.InDelta(t, 0.9, d.DatapointsReduction.Value, eps)
	assert.InDelta(t, 0.88, d.BytesReduction.Value, eps)
	assert.InDelta(t, 1, d.CriticalRetention, eps)
	assert.False(t, d.BaselineSawNoCritical)
	assert.Nil(t, d.CPUIncrease)
	assert.Nil(t, d.MemoryIncrease)

	assert.True(t, res.Verdict.Pass)
	assert.Equal(t, []apitypes.Check{
		{Criterion: apitypes.CriterionSeriesReduction, Outcome: apitypes.OutcomePass, Reason: "series reduction 90.0% ≥ 0% required"},
		{Criterion: apitypes.CriterionCriticalRetention, Outcome: apitypes.OutcomePass, Reason: "critical retention 100.0% ≥ 100% required"},
		{Criterion: apitypes.CriterionCPUIncrease, Outcome: apitypes.OutcomeNotJudged, Reason: "collector CPU not compared in paired mode"},
	}, res.Verdict.Checks)
	assert.Equal(t, 1.0, *res.Criteria.MinCriticalRetention, "defaults are filled in")
	assert.Empty(t, res.Warnings)
}

func TestAnalyzeWindowEdges(t *testing.T) {
	t.Parallel()
	// Minutes 0..3 are the window [minute(0), minute(4)); a sample at
	// minute −1 and one at minute 4 (= To, exclusive) of every series must
	// not count.
	a := pairedAgent("a1", 4, baseline, candidate)
	for _, v := range []string{apitypes.VariantBaseline, apitypes.VariantCandidate} {
		for _, name := range []string{SeriesDatapoints, SeriesBytes, SeriesProcessResources, SeriesActiveSeries, SeriesCriticalProcesses} {
			a.series(name, v, -1, 0).series(name, v, 4, 1e12)
		}
	}
	res, err := Analyze(pairedInput(4, a))
	require.NoError(t, err)
	assert.InDelta(t, 7000, res.Variants[0].DatapointsPerMinute, eps)
	assert.InDelta(t, 7000, res.Variants[0].ActiveSeries, eps)
	assert.Equal(t, 4, res.Agents[0].Minutes)
	assert.Empty(t, res.Warnings, "the drop before the window is not a reset inside it")
}

func TestAnalyzeCounterReset(t *testing.T) {
	t.Parallel()
	a := pairedAgent("a1", 4, baseline, candidate)
	a.in.Samples = without(a.in.Samples, SeriesDatapoints, apitypes.VariantCandidate)
	// 100 → 200 (+100), restart → 50 (+50), → 150 (+100): 250 in 3 minutes.
	a.series(SeriesDatapoints, apitypes.VariantCandidate, 0, 100, 200, 50, 150)
	res, err := Analyze(pairedInput(4, a))
	require.NoError(t, err)
	assert.InDelta(t, 250.0/3, res.Variants[1].DatapointsPerMinute, eps)
	assert.InDelta(t, 1-(250.0/3)/7000, res.Derived.DatapointsReduction.Value, eps)
	assert.Equal(t, []string{"agent a1: counters restarted at 2026-03-01T12:02:00Z (collector restart); growth after a restart counts from 0"},
		res.Warnings)
}

func TestIncrease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []float64
		want   float64
		resets []int
	}{
		{"empty", nil, 0, nil},
		{"one value", []float64{5}, 0, nil},
		{"steady", []float64{1, 2, 4}, 3, nil},
		{"flat", []float64{3, 3, 3}, 0, nil},
		{"restart", []float64{10, 20, 5, 7}, 10 + 5 + 2, []int{2}},
		{"restart to zero", []float64{10, 0, 4}, 4, []int{1}},
		{"two restarts", []float64{10, 2, 1}, 3, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, at := increase(tt.values)
			assert.InDelta(t, tt.want, got, eps)
			assert.Equal(t, tt.resets, at)
		})
	}
}

func TestAnalyzePairedSameSamples(t *testing.T) {
	t.Parallel()
	// The candidate's minute 4 never arrived: the baseline's minute 4 must
	// be left out too, or the ratio compares different intervals.
	a := pairedAgent("a1", 4, baseline, candidate)
	for _, name := range []string{SeriesDatapoints, SeriesBytes, SeriesProcessResources} {
		last := lastValue(a.in.Samples, name, apitypes.VariantBaseline)
		a.series(name, apitypes.VariantBaseline, 4, last*10)
	}
	a.series(SeriesActiveSeries, apitypes.VariantBaseline, 4, 1e6).series(SeriesCriticalProcesses, apitypes.VariantBaseline, 4, 0)
	res, err := Analyze(pairedInput(5, a))
	require.NoError(t, err)
	assert.Equal(t, 4, res.Agents[0].Minutes)
	assert.Equal(t, minute(3), res.Agents[0].To)
	assert.InDelta(t, 0.9, res.Derived.DatapointsReduction.Value, eps)
	assert.InDelta(t, 0.9, res.Derived.SeriesReduction.Value, eps)
	assert.InDelta(t, 1, res.Derived.CriticalRetention, eps)
}

func TestAnalyzePairedInterval(t *testing.T) {
	t.Parallel()
	// Series reductions 0.8, 0.9, 0.85: mean 0.85, s = 0.05, n = 3,
	// t(0.975, 2) = 4.302652729749464, half-width 4.3026527·0.05/√3.
	in := pairedInput(3,
		pairedAgent("a1", 3, baseline, meter{700, 1e5, 100, 1400, 10}),
		pairedAgent("a2", 3, baseline, meter{700, 1e5, 100, 700, 10}),
		pairedAgent("a3", 3, baseline, meter{700, 1e5, 100, 1050, 10}),
	)
	res, err := Analyze(in)
	require.NoError(t, err)
	e := res.Derived.SeriesReduction
	assert.InDelta(t, 0.85, e.Value, eps)
	require.NotNil(t, e.Interval)
	half := 4.302652729749464 * 0.05 / math.Sqrt(3)
	assert.InDelta(t, 0.85-half, e.Interval.Low, 1e-9)
	assert.InDelta(t, 0.85+half, e.Interval.High, 1e-9)
	assert.Equal(t, apitypes.MethodPairedT, e.Interval.Method)
	assert.Equal(t, 0.95, e.Interval.Confidence)
	assert.Equal(t, 2.0, e.Interval.DegreesOfFreedom)
	// Equal datapoint reductions everywhere: a zero-width interval.
	require.NotNil(t, res.Derived.DatapointsReduction.Interval)
	assert.InDelta(t, 0.9, res.Derived.DatapointsReduction.Interval.Low, eps)
	assert.InDelta(t, 0.9, res.Derived.DatapointsReduction.Interval.High, eps)
	// Per-variant figures are means per agent.
	assert.Equal(t, 3, res.Variants[1].Agents)
	assert.InDelta(t, 1050, res.Variants[1].ActiveSeries, eps)
}

func splitInput(n int, criteria apitypes.Criteria, agents ...*agent) Input {
	in := Input{Mode: apitypes.ModeSplit, From: minute(0), To: minute(n), Criteria: criteria}
	for _, a := range agents {
		in.Agents = append(in.Agents, a.in)
	}
	return in
}

func TestAnalyzeSplit(t *testing.T) {
	t.Parallel()
	// Baseline cohort: 7,000 and 9,000 series (mean 8,000, s² = 2e6);
	// candidate: 700 and 900 (mean 800, s² = 2e4). R = 0.1, reduction 0.9.
	// Relative variance terms 2e4/(2·800²) = 2e6/(2·8000²) = 0.015625, so
	// SE = 0.1·√0.03125 and Welch df = 0.03125²/(2·0.015625²) = 2.
	// CPU: baseline 0.01 and 0.02 cores (mean 0.015), candidate 0.0165 both:
	// +10%.
	withActive := func(m meter, active float64) meter { m.active = active; return m }
	in := splitInput(3, apitypes.Criteria{MinSeriesReduction: 0.5, MaxCPUIncrease: ptr(0.05)},
		newAgent("b1", apitypes.VariantBaseline).costMeter(apitypes.VariantBaseline, 3, withActive(baseline, 7000)).collector(3, 0.01, 100e6),
		newAgent("b2", apitypes.VariantBaseline).costMeter(apitypes.VariantBaseline, 3, withActive(baseline, 9000)).collector(3, 0.02, 120e6),
		newAgent("c1", apitypes.VariantCandidate).costMeter(apitypes.VariantCandidate, 3, withActive(candidate, 700)).collector(3, 0.0165, 90e6),
		newAgent("c2", apitypes.VariantCandidate).costMeter(apitypes.VariantCandidate, 3, withActive(candidate, 900)).collector(3, 0.0165, 90e6),
	)
	res, err := Analyze(in)
	require.NoError(t, err)

	b, c := res.Variants[0], res.Variants[1]
	assert.Equal(t, 2, b.Agents)
	assert.Equal(t, 2, c.Agents)
	require.NotNil(t, b.CPUCores)
	assert.InDelta(t, 0.015, *b.CPUCores, eps)
	assert.InDelta(t, 0.0165, *c.CPUCores, eps)
	assert.InDelta(t, 110e6, *b.MemoryRSSBytes, eps)
	assert.InDelta(t, 90e6, *c.MemoryRSSBytes, eps)

	for _, ag := range res.Agents {
		assert.Len(t, ag.Variants, 1, ag.InstanceUID)
		assert.Nil(t, ag.SeriesReduction, "split agents have no reductions of their own")
	}

	e := res.Derived.SeriesReduction
	assert.InDelta(t, 0.9, e.Value, eps)
	require.NotNil(t, e.Interval)
	half := 4.302652729749464 * 0.1 * math.Sqrt(0.03125)
	assert.InDelta(t, 0.9-half, e.Interval.Low, 1e-9)
	assert.InDelta(t, 0.9+half, e.Interval.High, 1e-9)
	assert.InDelta(t, 2, e.Interval.DegreesOfFreedom, 1e-9)
	assert.Equal(t, apitypes.MethodDeltaWelch, e.Interval.Method)

	require.NotNil(t, res.Derived.CPUIncrease)
	assert.InDelta(t, 0.1, res.Derived.CPUIncrease.Value, eps)
	require.NotNil(t, res.Derived.MemoryIncrease)
	assert.InDelta(t, 90.0/110-1, res.Derived.MemoryIncrease.Value, eps)

	assert.False(t, res.Verdict.Pass)
	assert.Equal(t, []apitypes.Check{
		{Criterion: apitypes.CriterionSeriesReduction, Outcome: apitypes.OutcomePass, Reason: "series reduction 90.0% ≥ 50% required"},
		{Criterion: apitypes.CriterionCriticalRetention, Outcome: apitypes.OutcomePass, Reason: "critical retention 100.0% ≥ 100% required"},
		{Criterion: apitypes.CriterionCPUIncrease, Outcome: apitypes.OutcomeFail, Reason: "collector CPU increase 10.0% > 5% allowed"},
	}, res.Verdict.Checks)
}

func TestAnalyzeSplitSingleAgentCohorts(t *testing.T) {
	t.Parallel()
	in := splitInput(3, apitypes.Criteria{},
		newAgent("b1", apitypes.VariantBaseline).costMeter(apitypes.VariantBaseline, 3, baseline).collector(3, 0.02, 1e8),
		newAgent("c1", apitypes.VariantCandidate).costMeter(apitypes.VariantCandidate, 3, candidate).collector(3, 0.01, 1e8),
	)
	res, err := Analyze(in)
	require.NoError(t, err)
	assert.InDelta(t, 0.9, res.Derived.SeriesReduction.Value, eps)
	assert.Nil(t, res.Derived.SeriesReduction.Interval, "no interval from one agent per cohort")
	assert.InDelta(t, -0.5, res.Derived.CPUIncrease.Value, eps)
	assert.Equal(t, apitypes.Check{Criterion: apitypes.CriterionCPUIncrease, Outcome: apitypes.OutcomeNotJudged, Reason: "collector CPU increase -50.0% (not judged: no max_cpu_increase given)"},
		res.Verdict.Checks[2])
	assert.True(t, res.Verdict.Pass)
}

func TestAnalyzeCriticalRetention(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		base, cand    float64
		min           *float64
		want          float64
		sawNone, pass bool
		reason        string
	}{
		{"kept all", 10, 10, nil, 1, false, true, "critical retention 100.0% ≥ 100% required"},
		{"lost one", 10, 9, nil, 0.9, false, false, "critical retention 90.0% < 100% required"},
		{"lost one, 90% allowed", 10, 9, ptr(0.9), 0.9, false, true, "critical retention 90.0% ≥ 90% required"},
		{"lost almost nothing", 100000, 99996, nil, 0.99996, false, false, "critical retention 99.996% < 100% required"},
		{"baseline saw none", 0, 0, nil, 1, true, true, "critical retention 100.0% ≥ 100% required (the baseline saw no critical processes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, c := baseline, candidate
			b.critical, c.critical = tt.base, tt.cand
			in := pairedInput(3, pairedAgent("a1", 3, b, c))
			in.Criteria.MinCriticalRetention = tt.min
			res, err := Analyze(in)
			require.NoError(t, err)
			assert.InDelta(t, tt.want, res.Derived.CriticalRetention, eps)
			assert.Equal(t, tt.sawNone, res.Derived.BaselineSawNoCritical)
			assert.Equal(t, tt.pass, res.Verdict.Pass)
			assert.Equal(t, tt.reason, res.Verdict.Checks[1].Reason)
		})
	}
}

func TestAnalyzeSeriesReductionCriterion(t *testing.T) {
	t.Parallel()
	in := pairedInput(3, pairedAgent("a1", 3, baseline, meter{700, 1e5, 100, 6510, 10}))
	in.Criteria.MinSeriesReduction = 0.5
	res, err := Analyze(in)
	require.NoError(t, err)
	assert.False(t, res.Verdict.Pass)
	assert.Equal(t, apitypes.Check{Criterion: apitypes.CriterionSeriesReduction, Outcome: apitypes.OutcomeFail, Reason: "series reduction 7.0% < 50% required"}, res.Verdict.Checks[0])
}

func TestAnalyzeIdenticalVariantsReduceNothing(t *testing.T) {
	t.Parallel()
	// Property: whatever the data, a candidate identical to the baseline
	// reduces nothing and keeps every critical process.
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		n := 2 + rng.IntN(8)
		var agents []*agent
		for i := range 1 + rng.IntN(5) {
			a := newAgent("agent-"+string(rune('a'+i)), apitypes.VariantBaseline, apitypes.VariantCandidate)
			for _, name := range []string{SeriesDatapoints, SeriesBytes, SeriesProcessResources, SeriesActiveSeries, SeriesCriticalProcesses} {
				vals := make([]float64, n)
				acc := rng.Float64() * 1e6
				for j := range vals {
					if counters[name] && rng.IntN(6) == 0 {
						acc = 0 // a restart
					}
					acc += 1 + rng.Float64()*1e4
					vals[j] = acc
					if !counters[name] {
						vals[j] = float64(rng.IntN(5000))
					}
				}
				a.series(name, apitypes.VariantBaseline, 0, vals...).series(name, apitypes.VariantCandidate, 0, vals...)
			}
			agents = append(agents, a)
		}
		res, err := Analyze(pairedInput(n, agents...))
		require.NoError(t, err, "seed %d", seed)
		for name, e := range map[string]apitypes.Estimate{"series": res.Derived.SeriesReduction,
			"datapoints": res.Derived.DatapointsReduction, "bytes": res.Derived.BytesReduction} {
			assert.InDelta(t, 0, e.Value, 1e-12, "seed %d %s", seed, name)
			if e.Interval != nil {
				assert.InDelta(t, 0, e.Interval.Low, 1e-12, "seed %d %s", seed, name)
				assert.InDelta(t, 0, e.Interval.High, 1e-12, "seed %d %s", seed, name)
			}
		}
		assert.InDelta(t, 1, res.Derived.CriticalRetention, 1e-12, "seed %d", seed)
		for _, c := range res.Costs {
			assert.InDelta(t, 0, c.MonthlySaving, 1e-9, "seed %d %s", seed, c.Model.Name)
		}
	}
}

func TestAnalyzeTotalSuffix(t *testing.T) {
	t.Parallel()
	a := pairedAgent("a1", 3, baseline, candidate)
	for i := range a.in.Samples {
		if counters[a.in.Samples[i].Name] {
			a.in.Samples[i].Name += "_total"
		}
	}
	res, err := Analyze(pairedInput(3, a))
	require.NoError(t, err)
	assert.InDelta(t, 7000, res.Variants[0].DatapointsPerMinute, eps)
}

func TestAnalyzeOverflowWarning(t *testing.T) {
	t.Parallel()
	a := pairedAgent("a1", 3, baseline, candidate).series(SeriesActiveSeriesOverflow, apitypes.VariantBaseline, 0, 0, 5, 12)
	res, err := Analyze(pairedInput(3, a))
	require.NoError(t, err)
	assert.Equal(t, []string{`agent a1: otelcol_processor_cost_meter_active_series_overflow{variant="baseline"} grew by 12 in the window: its active series are lower bounds`},
		res.Warnings)
}

func TestAnalyzeChartSeries(t *testing.T) {
	t.Parallel()
	a := pairedAgent("a1", 3, baseline, candidate)
	b := pairedAgent("a2", 3, meter{7000, 3e6, 1000, 9000, 10}, candidate)
	in := pairedInput(3, a, b)
	in.PriceModels = []string{"grafana_cloud", "new_relic"}
	res, err := Analyze(in)
	require.NoError(t, err)
	require.Len(t, res.Series, 2)
	base := res.Series[0]
	assert.Equal(t, apitypes.VariantBaseline, base.Variant)
	assert.Equal(t, []apitypes.Point{{Minute: minute(0), Value: 8000}, {Minute: minute(1), Value: 8000}, {Minute: minute(2), Value: 8000}}, base.ActiveSeries)
	// Rates are stamped with the later minute of each pair.
	assert.Equal(t, []apitypes.Point{{Minute: minute(1), Value: 7000}, {Minute: minute(2), Value: 7000}}, base.DatapointsPerMinute)
	assert.Equal(t, []apitypes.Point{{Minute: minute(1), Value: 2e6}, {Minute: minute(2), Value: 2e6}}, base.BytesPerMinute)
	require.Len(t, base.HourlyCostUSD, 2)
	// Grafana: 8,000 series per host × 2 targets = 16 × $6.50 a month.
	assert.InDelta(t, 16*6.5/720, base.HourlyCostUSD["grafana_cloud"][0].Value, eps)
	// New Relic: 2e6 B/min × 43,200 / 1e9 = 86.4 GB per host, 172.8 GB for
	// both, 72.8 GB beyond the free 100.
	assert.InDelta(t, 72.8*0.30/720, base.HourlyCostUSD["new_relic"][0].Value, eps)
	assert.Equal(t, minute(1), base.HourlyCostUSD["new_relic"][0].Minute)
}

func TestResultsJSON(t *testing.T) {
	t.Parallel()
	res, err := Analyze(pairedInput(3, pairedAgent("a1", 3, baseline, candidate)))
	require.NoError(t, err)
	raw, err := json.Marshal(res)
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(raw, &m))
	for _, key := range []string{"mode", "from", "to", "targets", "criteria", "variants", "agents", "derived", "costs", "verdict", "series"} {
		assert.Contains(t, m, key)
	}
	v := m["variants"].([]any)[0].(map[string]any)
	assert.Equal(t, "baseline", v["variant"], "embedded figures are flattened")
	assert.Contains(t, v, "datapoints_per_minute")
	assert.NotContains(t, v, "cpu_cores")
	var back apitypes.Results
	require.NoError(t, json.Unmarshal(raw, &back))
	assert.Equal(t, res.Derived, back.Derived)
	assert.Equal(t, res.Verdict, back.Verdict)

	got, ok := res.Variant(apitypes.VariantCandidate)
	require.True(t, ok)
	assert.InDelta(t, 700, got.ActiveSeries, eps)
	_, ok = res.Variant("shadow")
	assert.False(t, ok)
}

// without drops a series' samples.
func without(samples []apitypes.Sample, name, variant string) []apitypes.Sample {
	var out []apitypes.Sample
	for _, s := range samples {
		if s.Name != name || s.Variant != variant {
			out = append(out, s)
		}
	}
	return out
}

func lastValue(samples []apitypes.Sample, name, variant string) float64 {
	var v float64
	for _, s := range samples {
		if s.Name == name && s.Variant == variant {
			v = s.Value
		}
	}
	return v
}
