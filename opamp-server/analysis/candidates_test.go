package analysis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// multiAgent is a paired agent that ran the baseline and every named
// candidate, each with its own meter.
func multiAgent(uid string, n int, b meter, cands map[string]meter, order ...string) *agent {
	a := newAgent(uid, append([]string{apitypes.VariantBaseline}, order...)...).costMeter(apitypes.VariantBaseline, n, b)
	for _, name := range order {
		a.costMeter(name, n, cands[name])
	}
	return a
}

func named(names ...string) []apitypes.NamedVariant {
	out := make([]apitypes.NamedVariant, len(names))
	for i, n := range names {
		out[i] = apitypes.NamedVariant{Name: n, Pipeline: "topk", Parameters: map[string]any{"k": i + 1}}
	}
	return out
}

var (
	// cheaper keeps half as many series as candidate, failing keeps too
	// few critical processes.
	cheaper = meter{datapoints: 350, bytes: 6e4, processes: 50, active: 350, critical: 10}
	failing = meter{datapoints: 100, bytes: 1e4, processes: 10, active: 100, critical: 5}
)

func TestAnalyzeCandidatesRanksAndRecommends(t *testing.T) {
	t.Parallel()
	meters := map[string]meter{"mid": candidate, "cheap": cheaper, "lossy": failing}
	order := []string{"mid", "lossy", "cheap"}
	in := pairedInput(4, multiAgent("a1", 4, baseline, meters, order...), multiAgent("a2", 4, baseline, meters, order...))

	res, err := AnalyzeCandidates(in, named(order...))
	require.NoError(t, err)

	var got []string
	for i, c := range res.Candidates {
		got = append(got, c.Name)
		assert.Equal(t, i+1, c.Rank)
	}
	// Passing first, cheaper first; the cheapest of all fails, so comes last.
	assert.Equal(t, []string{"cheap", "mid", "lossy"}, got)
	assert.Equal(t, "cheap", res.Recommended)
	assert.True(t, res.Candidates[0].Verdict.Pass)
	assert.False(t, res.Candidates[2].Verdict.Pass)
	assert.Equal(t, "topk", res.Candidates[0].Pipeline)
	assert.Equal(t, map[string]any{"k": 3}, res.Candidates[0].Parameters)

	// The top level is the first ranked, under its own name.
	require.Len(t, res.Variants, 2)
	assert.Equal(t, "cheap", res.Variants[1].Variant)
	assert.Equal(t, res.Candidates[0].Figures, res.Variants[1])
	assert.Equal(t, res.Candidates[0].Derived, res.Derived)
	assert.Equal(t, res.Candidates[0].Verdict, res.Verdict)
	assert.Equal(t, "cheap", res.Costs[0].Variants[1].Variant)
	for _, a := range res.Agents {
		assert.Equal(t, "cheap", a.Variants[1].Variant)
	}
	// Series: the baseline and every candidate, in rank order.
	var series []string
	for _, s := range res.Series {
		series = append(series, s.Variant)
	}
	assert.Equal(t, []string{"baseline", "cheap", "mid", "lossy"}, series)
}

func TestAnalyzeCandidatesFiguresEqualSingleAnalysis(t *testing.T) {
	t.Parallel()
	meters := map[string]meter{"one": candidate, "two": cheaper}
	multi, err := AnalyzeCandidates(pairedInput(4,
		multiAgent("a1", 4, baseline, meters, "one", "two"),
		multiAgent("a2", 4, baseline, meters, "one", "two")), named("one", "two"))
	require.NoError(t, err)

	for _, name := range []string{"one", "two"} {
		single, err := Analyze(pairedInput(4,
			pairedAgent("a1", 4, baseline, meters[name]), pairedAgent("a2", 4, baseline, meters[name])))
		require.NoError(t, err)
		var got apitypes.CandidateResults
		for _, c := range multi.Candidates {
			if c.Name == name {
				got = c
			}
		}
		require.Equal(t, name, got.Name)
		want := single.Variants[1]
		want.Variant = name
		assert.Equal(t, want, got.Figures, name)
		assert.Equal(t, single.Derived, got.Derived, name)
		assert.Equal(t, single.Verdict, got.Verdict, name)
		require.Len(t, got.Costs, len(single.Costs))
		for i := range single.Costs {
			wantCost := single.Costs[i]
			wantCost.Variants = []apitypes.VariantCost{single.Costs[i].Variants[0], single.Costs[i].Variants[1]}
			wantCost.Variants[1].Variant = name
			assert.Equal(t, wantCost, got.Costs[i], name)
		}
	}
}

func TestAnalyzeCandidatesNoneRecommendedWhenNonePasses(t *testing.T) {
	t.Parallel()
	meters := map[string]meter{"x": failing, "y": {datapoints: 200, bytes: 2e4, processes: 20, active: 200, critical: 4}}
	res, err := AnalyzeCandidates(pairedInput(4, multiAgent("a1", 4, baseline, meters, "x", "y")), named("x", "y"))
	require.NoError(t, err)
	assert.Empty(t, res.Recommended)
	assert.False(t, res.Verdict.Pass)
	// Failing ones rank by cost too.
	assert.Equal(t, "x", res.Candidates[0].Name)
	assert.Equal(t, "x", res.Variants[1].Variant)
}

func TestAnalyzeCandidatesErrorNamesTheCandidate(t *testing.T) {
	t.Parallel()
	meters := map[string]meter{"good": candidate, "quiet": candidate}
	a := multiAgent("a1", 4, baseline, meters, "good", "quiet")
	a.in.Samples = without(a.in.Samples, SeriesActiveSeries, "quiet")
	_, err := AnalyzeCandidates(pairedInput(4, a), named("good", "quiet"))
	require.ErrorIs(t, err, ErrInsufficientData)
	assert.Contains(t, err.Error(), `candidate "quiet"`)
	assert.Contains(t, err.Error(), `{variant="quiet"}`)
	assert.NotContains(t, err.Error(), `variant="candidate"`)
}

func TestAnalyzeCandidatesRefusesBadInput(t *testing.T) {
	t.Parallel()
	meters := map[string]meter{"a": candidate}
	tests := []struct {
		name  string
		in    Input
		cands []apitypes.NamedVariant
		want  string
	}{
		{"duplicate", pairedInput(4, multiAgent("a1", 4, baseline, meters, "a")), named("a", "a"), `candidates[1].name: "a" is also candidates[0]'s name`},
		{"unnamed", pairedInput(4, multiAgent("a1", 4, baseline, meters, "a")), named(""), "candidates[0].name: required"},
		{"agent missing a candidate", pairedInput(4, multiAgent("a1", 4, baseline, meters, "a")), named("a", "b"), "agents[0] (a1): variants"},
		{"split", Input{Mode: apitypes.ModeSplit}, named("a"), "paired mode only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AnalyzeCandidates(tt.in, tt.cands)
			require.ErrorIs(t, err, ErrInvalidInput)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// ranked builds candidate results with a verdict, a monthly cost, a series
// reduction and, when cov ≥ 0, a CPU coverage.
func ranked(name string, pass bool, cost, reduction, cov float64) apitypes.CandidateResults {
	c := apitypes.CandidateResults{Name: name, Verdict: apitypes.Verdict{Pass: pass},
		Derived: apitypes.Derived{SeriesReduction: apitypes.Estimate{Value: reduction}},
		Costs:   []apitypes.ModelCost{{Variants: []apitypes.VariantCost{{Monthly: 1000}, {Monthly: cost}}}}}
	if cov >= 0 {
		c.Fidelity = &apitypes.Fidelity{CPUCoverage: ptr(cov)}
	}
	return c
}

func TestRankOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cands []apitypes.CandidateResults
		want  []string
	}{
		{"pass before fail", []apitypes.CandidateResults{ranked("f", false, 10, 0.9, -1), ranked("p", true, 500, 0.5, -1)}, []string{"p", "f"}},
		{"cheaper first", []apitypes.CandidateResults{ranked("b", true, 300, 0.5, -1), ranked("a", true, 200, 0.5, -1), ranked("c", true, 100, 0.5, -1)}, []string{"c", "a", "b"}},
		{"cost tie: greater reduction", []apitypes.CandidateResults{ranked("a", true, 100, 0.5, -1), ranked("b", true, 100, 0.8, -1)}, []string{"b", "a"}},
		{"full tie: by name", []apitypes.CandidateResults{ranked("zeta", true, 100, 0.5, -1), ranked("alpha", true, 100, 0.5, -1)}, []string{"alpha", "zeta"}},
		{"failing ones cheaper first", []apitypes.CandidateResults{ranked("f2", false, 300, 0.5, -1), ranked("f1", false, 100, 0.5, -1), ranked("p", true, 900, 0.1, -1)}, []string{"p", "f1", "f2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, i := range rank(tt.cands) {
				got = append(got, tt.cands[i].Name)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMarkPareto(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cands []apitypes.CandidateResults
		want  map[string]bool
	}{
		{"trade-off: both optimal", []apitypes.CandidateResults{ranked("cheap", true, 100, 0, 0.6), ranked("covering", true, 300, 0, 0.9)},
			map[string]bool{"cheap": true, "covering": true}},
		{"dominated on both", []apitypes.CandidateResults{ranked("best", true, 100, 0, 0.9), ranked("worse", true, 300, 0, 0.6)},
			map[string]bool{"best": true, "worse": false}},
		{"equal cost, less coverage", []apitypes.CandidateResults{ranked("a", true, 100, 0, 0.9), ranked("b", true, 100, 0, 0.8)},
			map[string]bool{"a": true, "b": false}},
		{"identical: both optimal", []apitypes.CandidateResults{ranked("a", true, 100, 0, 0.9), ranked("b", true, 100, 0, 0.9)},
			map[string]bool{"a": true, "b": true}},
		{"no coverage: cost only", []apitypes.CandidateResults{ranked("a", true, 100, 0, -1), ranked("b", true, 200, 0, 0.99), ranked("c", true, 100, 0, -1)},
			map[string]bool{"a": true, "b": false, "c": true}},
		{"verdict does not count", []apitypes.CandidateResults{ranked("failing", false, 50, 0, 0.5), ranked("passing", true, 100, 0, 0.9)},
			map[string]bool{"failing": true, "passing": true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			markPareto(tt.cands)
			got := map[string]bool{}
			for _, c := range tt.cands {
				got[c.Name] = c.ParetoOptimal
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestAnalyzeCandidatesWithoutCandidatesIsAnalyze(t *testing.T) {
	t.Parallel()
	in := pairedInput(4, pairedAgent("a1", 4, baseline, candidate))
	want, err := Analyze(in)
	require.NoError(t, err)
	got, err := AnalyzeCandidates(in, nil)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Empty(t, got.Candidates)
	assert.Empty(t, got.Recommended)
}
