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

// lin is n values growing by rate from start.
func lin(n int, start, rate float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = start + rate*float64(i)
	}
	return out
}

// split is a variant's per-minute increases of one quantity.
type split struct{ attributed, rolledUp float64 }

// fidelityMeter writes minutes [0, n) of a variant's fidelity counters;
// processes rolled up are per minute too (attributed ones are the
// costMeter's process_resources).
func (a *agent) fidelityMeter(variant string, n int, cpu, mem, disk, net split, processesRolledUp float64) *agent {
	for _, s := range []struct {
		q     quantity
		split split
	}{{quantities[0], cpu}, {quantities[1], mem}, {quantities[2], disk}, {quantities[3], net}} {
		a.series(s.q.attributed, variant, 0, lin(n, 10, s.split.attributed)...)
		a.series(s.q.rolledUp, variant, 0, lin(n, 20, s.split.rolledUp)...)
	}
	return a.series(SeriesProcessesRolledUp, variant, 0, lin(n, 30, processesRolledUp)...)
}

// example adds a blind-spot example sample of the candidate.
func (a *agent) example(t *testing.T, resource, host, name string, m int, peak float64) *agent {
	t.Helper()
	s, _, err := apitypes.BlindSpotSampleName(resource, host, name)
	require.NoError(t, err)
	return a.series(s, apitypes.VariantCandidate, m, peak)
}

// fidelityAgent is a paired agent over minutes [0, 11) (10 minutes, 1/6 h)
// whose figures are worked out by hand in TestFidelityPaired.
func fidelityAgent(t *testing.T, uid string) *agent {
	const n = 11
	a := pairedAgent(uid, n, baseline, candidate) // process_resources 1000/min and 100/min
	a.fidelityMeter(apitypes.VariantBaseline, n, split{54, 6}, split{1000, 0}, split{100, 0}, split{0, 0}, 0)
	a.fidelityMeter(apitypes.VariantCandidate, n, split{45, 15}, split{800, 205}, split{50, 40}, split{0, 0}, 900)
	a.series(SeriesBlindSpots, apitypes.VariantCandidate, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3)
	a.series(SeriesNotableProcesses, apitypes.VariantBaseline, 0, lin(n, 4, 0.6)...)
	a.series(SeriesBlindSpots+"_total", apitypes.VariantBaseline, 0, lin(n, 0, 100)...) // not the candidate's: ignored
	return a
}

func TestFidelityPaired(t *testing.T) {
	t.Parallel()
	a := fidelityAgent(t, "a1").
		example(t, "cpu", "h1", "java", 2, 1.5).
		example(t, "cpu", "h1", "java", 5, 2.5). // the same process later: its peak is the max
		example(t, "memory", "h1", "postgres", 3, 4e9).
		example(t, "cpu", "h/1", "100% busy", 4, 0.9) // separators escaped, parsed back
	for i, name := range []string{"a", "b", "c", "d", "e", "f"} {
		a.example(t, "cpu", "h2", name, 6, 0.1*float64(i+1))
	}
	a.series(apitypes.BlindSpotPrefix+"disk/h/x", apitypes.VariantCandidate, 1, 9)   // malformed: noted
	a.series(apitypes.BlindSpotPrefix+"cpu/h/base", apitypes.VariantBaseline, 1, 99) // the baseline's: ignored
	in := pairedInput(11, a)
	in.Criteria.MinCPUCoverage = ptr(0.7)
	in.Criteria.MaxBlindSpotsPerHour = ptr(10.0)
	res, err := Analyze(in)
	require.NoError(t, err)

	f := res.Fidelity
	require.NotNil(t, f)
	assert.Equal(t, apitypes.VariantCandidate, f.Variant)
	assert.Equal(t, 1, f.Agents)
	// CPU: candidate attributed 450 s of the baseline's 540 + 60 = 600.
	require.NotNil(t, f.CPUCoverage)
	assert.InDelta(t, 0.75, *f.CPUCoverage, eps)
	// Memory: 8,000 of 10,000 byte-scrapes.
	require.NotNil(t, f.MemoryCoverage)
	assert.InDelta(t, 0.8, *f.MemoryCoverage, eps)
	assert.False(t, f.CoverageUpperBound)

	// Conservation: cpu 600 vs 600; memory 10,050 vs 10,000 (0.5%); disk
	// 900 vs 1,000 (10%); network nothing counted; processes 1,000 + 9,000
	// vs 10,000 + 0.
	assert.Equal(t, []apitypes.Conservation{
		{Quantity: "cpu", Baseline: 600, Candidate: 600, Error: 0, Under1Percent: true},
		{Quantity: "memory", Baseline: 10000, Candidate: 10050, Error: 0.005, Under1Percent: true},
		{Quantity: "disk", Baseline: 1000, Candidate: 900, Error: 0.1, Under1Percent: false},
		{Quantity: "processes", Baseline: 10000, Candidate: 10000, Error: 0, Under1Percent: true},
	}, f.Conservation)
	require.NotNil(t, f.Conserved)
	assert.False(t, *f.Conserved, "disk is 10% off")
	assert.Contains(t, f.Notes, "network conservation not measured: the baseline counted none")

	// 3 blind spots and 6 notable processes in 1/6 h.
	require.NotNil(t, f.BlindSpotsPerHour)
	assert.InDelta(t, 18, *f.BlindSpotsPerHour, eps)
	require.NotNil(t, f.NotableProcessesPerHour)
	assert.InDelta(t, 36, *f.NotableProcessesPerHour, eps)

	// The worst five CPU examples by peak, then the memory one.
	ex := func(resource, host, name string, peak float64) apitypes.BlindSpotExample {
		return apitypes.BlindSpotExample{Name: name, Host: host, InstanceUID: "a1", Resource: resource, Peak: peak}
	}
	assert.Equal(t, []apitypes.BlindSpotExample{
		ex("cpu", "h1", "java", 2.5),
		ex("cpu", "h/1", "100% busy", 0.9),
		ex("cpu", "h2", "f", 0.6000000000000001),
		ex("cpu", "h2", "e", 0.5),
		ex("cpu", "h2", "d", 0.4),
		ex("memory", "h1", "postgres", 4e9),
	}, f.BlindSpotExamples)
	assert.Contains(t, f.Notes[len(f.Notes)-1], "1 blind-spot example series could not be read")

	assert.False(t, res.Verdict.Pass)
	assert.Equal(t, []apitypes.Check{
		{Criterion: apitypes.CriterionCPUCoverage, Outcome: apitypes.OutcomePass, Reason: "CPU coverage 75.0% ≥ 70% required"},
		{Criterion: apitypes.CriterionBlindSpots, Outcome: apitypes.OutcomeFail, Reason: "blind spots 18 per agent-hour > 10 allowed"},
	}, res.Verdict.Checks[3:])
}

func TestFidelityTwoAgentsPool(t *testing.T) {
	t.Parallel()
	// Two identical agents and one without fidelity series: the figures
	// pool the two (same ratios), and a note names the third.
	res, err := Analyze(pairedInput(11, fidelityAgent(t, "a1"), fidelityAgent(t, "a2"),
		pairedAgent("old", 11, baseline, candidate)))
	require.NoError(t, err)
	f := res.Fidelity
	assert.Equal(t, 2, f.Agents)
	assert.InDelta(t, 0.75, *f.CPUCoverage, eps)
	assert.InDelta(t, 18, *f.BlindSpotsPerHour, eps)
	assert.Equal(t, 1200.0, f.Conservation[0].Baseline)
	assert.Contains(t, f.Notes, "fidelity figures from 2 of 3 agents running the candidate: the others did not export cost_meter's fidelity series")
}

func TestFidelityAbsent(t *testing.T) {
	t.Parallel()
	// Collectors without fidelity series analyse as before: no figures, a
	// note, and fidelity criteria not judged rather than failed.
	in := pairedInput(4, pairedAgent("a1", 4, baseline, candidate))
	in.Criteria.MinCPUCoverage = ptr(0.9)
	in.Criteria.MaxBlindSpotsPerHour = ptr(1.0)
	res, err := Analyze(in)
	require.NoError(t, err)
	f := res.Fidelity
	require.NotNil(t, f)
	assert.Zero(t, f.Agents)
	assert.Nil(t, f.CPUCoverage)
	assert.Nil(t, f.MemoryCoverage)
	assert.Nil(t, f.Conservation)
	assert.Nil(t, f.Conserved)
	assert.Nil(t, f.BlindSpotsPerHour)
	assert.Empty(t, f.BlindSpotExamples)
	require.Len(t, f.Notes, 1)
	assert.Contains(t, f.Notes[0], "no fidelity figures")
	assert.True(t, res.Verdict.Pass)
	assert.Equal(t, []apitypes.Check{
		{Criterion: apitypes.CriterionCPUCoverage, Outcome: apitypes.OutcomeNotJudged,
			Reason: "CPU coverage not judged: the collectors did not export cost_meter's fidelity series"},
		{Criterion: apitypes.CriterionBlindSpots, Outcome: apitypes.OutcomeNotJudged,
			Reason: "blind spots not judged: the collectors did not export cost_meter's fidelity series"},
	}, res.Verdict.Checks[3:])
}

func TestFidelitySplit(t *testing.T) {
	t.Parallel()
	// Split mode: the candidate's own 45 / (45 + 15) of CPU, 800 / 1005 of
	// memory; no conservation, no blind spots.
	in := splitInput(11, apitypes.Criteria{MinCPUCoverage: ptr(0.8), MaxBlindSpotsPerHour: ptr(0.0)},
		newAgent("b1", apitypes.VariantBaseline).costMeter(apitypes.VariantBaseline, 11, baseline).collector(11, 0.01, 1e8).
			fidelityMeter(apitypes.VariantBaseline, 11, split{60, 0}, split{1000, 0}, split{1, 0}, split{}, 0),
		newAgent("c1", apitypes.VariantCandidate).costMeter(apitypes.VariantCandidate, 11, candidate).collector(11, 0.01, 1e8).
			fidelityMeter(apitypes.VariantCandidate, 11, split{45, 15}, split{800, 205}, split{1, 0}, split{}, 900),
	)
	res, err := Analyze(in)
	require.NoError(t, err)
	f := res.Fidelity
	assert.InDelta(t, 0.75, *f.CPUCoverage, eps)
	assert.InDelta(t, 800.0/1005, *f.MemoryCoverage, eps)
	assert.True(t, f.CoverageUpperBound)
	assert.Nil(t, f.Conservation)
	assert.Nil(t, f.BlindSpotsPerHour)
	assert.Nil(t, f.NotableProcessesPerHour)
	assert.Contains(t, f.Notes[0], "not measurable in split mode")
	assert.Len(t, f.Notes, 1, "the baseline cohort is not expected to report fidelity figures")
	assert.Equal(t, 1, f.Agents)
	assert.Equal(t, []apitypes.Check{
		{Criterion: apitypes.CriterionCPUCoverage, Outcome: apitypes.OutcomeFail, Reason: "CPU coverage 75.0% < 80% required (split mode: an upper bound)"},
		{Criterion: apitypes.CriterionBlindSpots, Outcome: apitypes.OutcomeNotJudged,
			Reason: "blind spots not judged: not measurable in split mode (no reference variant on the same hosts)"},
	}, res.Verdict.Checks[3:])
}

func TestConservationAnySplitConserves(t *testing.T) {
	t.Parallel()
	// Whatever share of each total a variant attributes, attributed +
	// rolled up conserves the total: the error is 0 and under 1%.
	r := rand.New(rand.NewPCG(14, 14))
	for range 200 {
		const n = 6
		totals := [4]float64{}
		for i := range totals {
			totals[i] = 1 + r.Float64()*1e4
		}
		cut := func(total float64) split { s := r.Float64(); return split{total * s, total * (1 - s)} }
		a := pairedAgent("a1", n, baseline, baseline) // same processes per minute in both
		a.fidelityMeter(apitypes.VariantBaseline, n, cut(totals[0]), cut(totals[1]), cut(totals[2]), cut(totals[3]), 0)
		a.fidelityMeter(apitypes.VariantCandidate, n, cut(totals[0]), cut(totals[1]), cut(totals[2]), cut(totals[3]), 0)
		res, err := Analyze(pairedInput(n, a))
		require.NoError(t, err)
		f := res.Fidelity
		require.Len(t, f.Conservation, 5)
		for _, c := range f.Conservation {
			assert.InDelta(t, 0, c.Error, 1e-9, c.Quantity)
			assert.True(t, c.Under1Percent, c.Quantity)
		}
		assert.True(t, *f.Conserved)
	}
}

func TestFidelityCriteriaValidated(t *testing.T) {
	t.Parallel()
	for _, c := range []apitypes.Criteria{
		{MinCPUCoverage: ptr(1.5)},
		{MinCPUCoverage: ptr(-0.1)},
		{MaxBlindSpotsPerHour: ptr(-1.0)},
		{MaxBlindSpotsPerHour: ptr(math.Inf(1))},
		{MaxBlindSpotsPerHour: ptr(math.NaN())},
	} {
		in := pairedInput(4, pairedAgent("a1", 4, baseline, candidate))
		in.Criteria = c
		_, err := Analyze(in)
		require.ErrorIs(t, err, ErrInvalidInput)
		assert.Regexp(t, "min_cpu_coverage|max_blind_spots_per_hour", err.Error())
	}
}

func TestFidelityStaysFinite(t *testing.T) {
	t.Parallel()
	// Counters near the largest float: their totals overflow, and the
	// figures they would make are left out rather than made infinite.
	const n = 3
	a := pairedAgent("a1", n, baseline, candidate)
	huge := []float64{0, math.MaxFloat64 / 2, math.MaxFloat64}
	for _, v := range []string{apitypes.VariantBaseline, apitypes.VariantCandidate} {
		for _, q := range quantities[:4] {
			a.series(q.attributed, v, 0, huge...).series(q.rolledUp, v, 0, huge...)
		}
		a.series(SeriesProcessesRolledUp, v, 0, 0, 1, 2)
	}
	res, err := Analyze(pairedInput(n, a))
	require.NoError(t, err)
	_, err = json.Marshal(res)
	require.NoError(t, err, "results encode to JSON")
	assert.Nil(t, res.Fidelity.CPUCoverage)
	assert.Contains(t, res.Fidelity.Notes, "cpu conservation not measured: its totals overflow")
}
