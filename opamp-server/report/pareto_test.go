package report

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// multiResults are pairedResults as an experiment with four candidates
// reports them, with round costs under the first price model (baseline
// $100 a month): topk-rollup-k10 (93% coverage, $20) ranks first and is
// recommended, topk-k10 ($30) has no coverage figure, topk-rollup-k5 (80%,
// $10) fails and topk-k20 (85%, $40) fails and is dominated.
func multiResults(t *testing.T, names ...string) *apitypes.Results {
	t.Helper()
	if len(names) == 0 {
		names = []string{"topk-rollup-k10", "topk-k10", "topk-rollup-k5", "topk-k20"}
	}
	r := pairedResults(t)
	first := names[0]
	rename := func(v *string) {
		if *v == apitypes.VariantCandidate {
			*v = first
		}
	}
	for i := range r.Variants {
		rename(&r.Variants[i].Variant)
	}
	for i := range r.Costs {
		for j := range r.Costs[i].Variants {
			rename(&r.Costs[i].Variants[j].Variant)
		}
	}
	r.Costs[0].Variants[0].Monthly = 100
	candSeries := r.Series[1]
	rename(&r.Series[1].Variant)
	for _, n := range names[1:] {
		s := candSeries
		s.Variant = n
		r.Series = append(r.Series, s)
	}
	cost := func(name string, monthly float64) []apitypes.ModelCost {
		return []apitypes.ModelCost{{Model: r.Costs[0].Model, Variants: []apitypes.VariantCost{
			{Variant: apitypes.VariantBaseline, Monthly: 100}, {Variant: name, Monthly: monthly}}}}
	}
	fid := func(name string, cov float64) *apitypes.Fidelity {
		return &apitypes.Fidelity{Variant: name, CPUCoverage: new(cov), BlindSpotsPerHour: new(0.5), Conserved: new(true)}
	}
	fail := apitypes.Verdict{Checks: []apitypes.Check{{Criterion: apitypes.CriterionBlindSpots, Outcome: apitypes.OutcomeFail,
		Reason: "3.2 blind spots per agent-hour > 1 allowed"}}}
	r.Candidates = []apitypes.CandidateResults{
		{Name: names[0], Pipeline: "topk-rollup", Parameters: map[string]any{"k": 10}, Rank: 1, Derived: r.Derived,
			Costs: cost(names[0], 20), Verdict: apitypes.Verdict{Pass: true}, Fidelity: fid(names[0], 0.93), ParetoOptimal: true},
		{Name: names[1], Pipeline: "topk", Parameters: map[string]any{"k": 10}, Rank: 2, Costs: cost(names[1], 30),
			Verdict: apitypes.Verdict{Pass: true}},
		{Name: names[2], Pipeline: "topk-rollup", Parameters: map[string]any{"k": 5}, Rank: 3, Costs: cost(names[2], 10),
			Verdict: fail, Fidelity: fid(names[2], 0.8), ParetoOptimal: true},
		{Name: names[3], Pipeline: "topk", Parameters: map[string]any{"k": 20}, Rank: 4, Costs: cost(names[3], 40),
			Verdict: fail, Fidelity: fid(names[3], 0.85)},
	}
	r.Recommended = first
	return r
}

// point is a chart point as drawn: its group's classes and marker.
type point struct {
	class  string
	cx, cy string
	fill   string
	label  string
	marked bool
}

func chartPoints(t *testing.T, svg *html.Node) map[string]point {
	t.Helper()
	out := map[string]point{}
	for _, g := range elements(svg, "g") {
		if !strings.HasPrefix(attr(g, "class"), "point") {
			continue
		}
		p := point{class: attr(g, "class")}
		for _, c := range elements(g, "circle") {
			if attr(c, "class") == "mark" {
				p.marked = true
				continue
			}
			p.cx, p.cy, p.fill = attr(c, "cx"), attr(c, "cy"), attr(c, "fill")
		}
		for _, l := range elements(g, "text") {
			p.label = text(l)
		}
		out[attr(g, "data-name")] = p
	}
	return out
}

func TestRenderSeveralCandidates(t *testing.T) {
	res := multiResults(t)
	root := parse(t, render(t, fullData(res)))
	section := byID(root, "candidates")
	require.NotNil(t, section)
	assert.Contains(t, text(section), "Recommended: topk-rollup-k10 — the cheapest that meets every criterion.")
	assert.Contains(t, text(byID(root, "verdict")), "Verdict: PASS — the first ranked, topk-rollup-k10, met every criterion")

	chart := byID(root, "chart-candidates")
	require.NotNil(t, chart)
	assert.Contains(t, text(elements(chart, "figcaption")[0]), "Monthly cost against CPU coverage — "+res.Costs[0].Model.Title)
	// x: 78 + coverage × (740 − 78); y: 240 − cost/100 × (240 − 40).
	assert.Equal(t, map[string]point{
		"baseline":        {class: "point baseline", cx: "740", cy: "40", fill: "#1f5fbf", label: "baseline"},
		"topk-rollup-k10": {class: "point optimal recommended", cx: "693.7", cy: "200", fill: "#d9660b", label: "topk-rollup-k10 ★ recommended", marked: true},
		"topk-rollup-k5":  {class: "point optimal", cx: "607.6", cy: "220", fill: "#7c3aed", label: "topk-rollup-k5"},
		"topk-k20":        {class: "point", cx: "640.7", cy: "160", fill: "#c2185b", label: "topk-k20"},
	}, chartPoints(t, chart), "topk-k10 has no CPU coverage: not placed")
	var front []string
	for _, l := range elements(chart, "polyline") {
		front = append(front, attr(l, "points"))
	}
	assert.Equal(t, []string{"607.6,220 693.7,200"}, front, "the Pareto front joins the optimal candidates by coverage")
	var ticks []string
	for _, tx := range elements(chart, "text") {
		if attr(tx, "class") == "" {
			ticks = append(ticks, text(tx))
		}
	}
	assert.Equal(t, []string{"$0", "$25", "$50", "$75", "$100", "0%", "20%", "40%", "60%", "80%", "100%", "CPU coverage", "USD per month, all targets"}, ticks)
	notPlaced := byID(root, "not-placed")
	require.NotNil(t, notPlaced)
	assert.Equal(t, "Not placed: no CPU coverage: topk-k10.", text(notPlaced))

	// The ranking, as the CLI prints it.
	table := byID(root, "candidates-table")
	require.NotNil(t, table)
	var rows [][]string
	for _, tr := range elements(elements(table, "tbody")[0], "tr") {
		var cells []string
		for _, td := range elements(tr, "td") {
			cells = append(cells, text(td))
		}
		rows = append(rows, cells)
	}
	usd := formatUSD
	assert.Equal(t, [][]string{
		{"1", "topk-rollup-k10 recommendedPareto-optimal", "topk-rollup k=10", formatPercent(res.Derived.SeriesReduction.Value), "93.0%", "0.5", "yes", usd(20), "pass"},
		{"2", "topk-k10", "topk k=10", "0.0%", "—", "—", "—", usd(30), "pass"},
		{"3", "topk-rollup-k5Pareto-optimal", "topk-rollup k=5", "0.0%", "80.0%", "0.5", "yes", usd(10), "fail3.2 blind spots per agent-hour > 1 allowed"},
		{"4", "topk-k20", "topk k=20", "0.0%", "85.0%", "0.5", "yes", usd(40), "fail3.2 blind spots per agent-hour > 1 allowed"},
	}, rows)
	assert.Equal(t, "recommended", attr(elements(table, "tr")[1], "class"))

	// The time charts colour each variant by its place in the series.
	active := byID(root, "chart-active-series")
	var colours []string
	for _, l := range elements(active, "polyline") {
		colours = append(colours, attr(l, "stroke"))
	}
	assert.Equal(t, []string{"#1f5fbf", "#d9660b", "#2a9d4b", "#7c3aed", "#c2185b"}, colours)
}

func TestRenderSeveralCandidatesNoneRecommended(t *testing.T) {
	res := multiResults(t)
	res.Recommended = ""
	res.Costs = nil
	for i := range res.Candidates {
		res.Candidates[i].Costs = nil
	}
	root := parse(t, render(t, fullData(res)))
	section := byID(root, "candidates")
	require.NotNil(t, section)
	assert.Contains(t, text(section), "No candidate meets every criterion.")
	assert.Nil(t, byID(root, "chart-candidates"), "no price model, no cost to plot")
	assert.Contains(t, text(section), "No price model")
	assert.Empty(t, elements(section, "circle"))
}

func TestRenderOneCandidateHasNoRanking(t *testing.T) {
	root := parse(t, render(t, fullData(pairedResults(t))))
	assert.Nil(t, byID(root, "candidates"))
	assert.Nil(t, byID(root, "chart-candidates"))
}

func TestRenderEscapesHostileCandidateNames(t *testing.T) {
	evil := `<script>alert(1)</script>`
	res := multiResults(t, evil, `"><img src=x onerror=alert(2)>`, "topk-rollup-k5", "topk-k20")
	res.Candidates[0].Pipeline = "<b>pipe</b>"
	doc := render(t, fullData(res))
	assert.NotContains(t, doc, "<script>")
	assert.NotContains(t, doc, "<img")
	assert.NotContains(t, doc, "<b>pipe")
	root := parse(t, doc)
	assert.Empty(t, elements(root, "script"))
	assert.Empty(t, elements(root, "img"))
	points := chartPoints(t, byID(root, "chart-candidates"))
	require.Contains(t, points, evil, "the name is the attribute's value, escaped")
	assert.Equal(t, evil+" ★ recommended", points[evil].label)
	assert.Contains(t, text(byID(root, "not-placed")), `"><img src=x onerror=alert(2)>`)
	assert.Contains(t, text(byID(root, "candidates")), "Recommended: "+evil)
}

func TestColorsOfFurtherVariants(t *testing.T) {
	seen := map[string]bool{}
	for i, v := range []string{apitypes.VariantBaseline, "a", "b", "c", "d"} {
		c := colorOf(v, i)
		assert.False(t, seen[c], "%s at %d: %s again", v, i, c)
		seen[c] = true
	}
	assert.Equal(t, colorOf(apitypes.VariantCandidate, 3), colorOf("x", 1), "the second place is the candidate's colour")
}

func TestRenderNamesSeveralCandidatesInTheHeader(t *testing.T) {
	d := fullData(multiResults(t))
	d.Experiment.CandidatePipeline = ""
	d.Experiment.Candidates = []string{"topk-rollup-k5: topk-rollup", "<b>x</b>: topk"}
	html := render(t, d)
	assert.Contains(t, html, "<dt>Candidates</dt><dd><code>topk-rollup-k5: topk-rollup</code>, <code>&lt;b&gt;x&lt;/b&gt;: topk</code></dd>")
	assert.NotContains(t, html, "<dt>Candidate</dt>")
}
