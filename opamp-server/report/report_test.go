package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestRenderPaired(t *testing.T) {
	res := pairedResults(t)
	doc := render(t, fullData(res))
	root := parse(t, doc)

	title := elements(root, "title")[0]
	assert.Equal(t, "Phoenix experiment report — Top-k 50 on web tier", text(title))
	for _, want := range []string{"exp-7f3a", "Keep the 50 busiest processes", "completed", "3 agents", "tier=web",
		"process-topk", "2026-03-01 11:57:00 UTC"} {
		assert.Contains(t, text(root), want)
	}

	verdict := byID(root, "verdict")
	require.NotNil(t, verdict)
	assert.Contains(t, attr(verdict, "class"), "pass")
	vt := text(verdict)
	assert.Contains(t, vt, "Verdict: PASS — the candidate met every criterion")
	for _, c := range res.Verdict.Checks {
		assert.Contains(t, vt, c.Reason)
	}
	assert.Contains(t, vt, "collector CPU not compared in paired mode")

	// Figures, reductions with intervals, costs per model.
	all := text(root)
	assert.Contains(t, all, "Active series reduction")
	e := res.Derived.SeriesReduction
	require.NotNil(t, e.Interval)
	assert.Contains(t, all, formatPercent(e.Interval.Low)+" to "+formatPercent(e.Interval.High))
	assert.Contains(t, all, "paired t, 2 df")
	for _, c := range res.Costs {
		assert.Contains(t, all, c.Model.Title)
		assert.Contains(t, all, formatUSD(c.MonthlySaving))
		assert.Contains(t, all, "price as of "+c.Model.AsOf)
	}
	assert.Contains(t, all, "Collector CPU and memory are shared")
	assert.NotContains(t, all, "Collector CPU (cores)")

	// One chart for active series and one per price model, each with one
	// line per variant.
	svgs := elements(root, "svg")
	require.Len(t, svgs, 1+len(res.Costs))
	assert.NotNil(t, byID(root, "chart-active-series"))
	for _, c := range res.Costs {
		assert.NotNil(t, byID(root, "chart-cost-"+c.Model.Name))
	}
	for _, svg := range svgs {
		lines := elements(svg, "polyline")
		require.Len(t, lines, 2)
		var variants []string
		for _, g := range elements(svg, "g") {
			variants = append(variants, attr(g, "data-variant"))
		}
		assert.Equal(t, []string{"baseline", "candidate"}, variants)
		// Ten minutes of gauges; nine rates between them for bytes.
		want := 10
		if attr(svg.Parent, "id") == "chart-cost-new_relic" {
			want = 9
		}
		for _, l := range lines {
			assert.Len(t, strings.Fields(attr(l, "points")), want, attr(svg.Parent, "id"))
			assert.Len(t, elements(l.Parent, "circle"), want, "every point is marked")
		}
		assert.NotEmpty(t, elements(svg, "title"))
	}

	// Timeline and configuration.
	events := elements(elements(root, "ol")[0], "li")
	require.Len(t, events, 4)
	assert.Equal(t, "2026-03-01T11:56:00Z", attr(elements(events[1], "time")[0], "datetime"))
	assert.Contains(t, text(events[1]), "pending → deploying — started")
	details := configs(root)
	require.Len(t, details, 1)
	var targets []string
	for _, li := range elements(elements(root, "dl")[0], "li") {
		targets = append(targets, text(li))
	}
	assert.Equal(t, []string{"agent-1", "agent-2", "agent-3"}, targets)
	assert.Contains(t, text(details[0]), "paired configuration")
	assert.Contains(t, text(details[0]), "hostmetrics: {}")

	assertSelfContained(t, doc)
}

func TestRenderSplit(t *testing.T) {
	res := splitResults(t)
	d := fullData(res)
	d.Configs = []Config{{Name: "baseline", YAML: "a: 1"}, {Name: "candidate", YAML: "b: 2"}}
	root := parse(t, render(t, d))
	all := text(root)
	assert.Contains(t, all, "Verdict: FAIL — 1 criterion not met")
	assert.Contains(t, all, "collector CPU increase")
	assert.Contains(t, all, "Collector CPU (cores)")
	assert.Contains(t, all, "Collector memory (RSS)")
	assert.Contains(t, all, "Collector CPU increase")
	assert.Contains(t, all, "delta method (Welch df)")
	assert.Contains(t, all, "Split mode: 1 − ratio of the cohorts' means")
	assert.Contains(t, attr(byID(root, "verdict"), "class"), "fail")
	assert.Len(t, configs(root), 2)
	// The per-agent table lists each agent with its one variant.
	table := byID(root, "agents").NextSibling
	for table.Type != html.ElementNode {
		table = table.NextSibling
	}
	rows := elements(elements(table, "tbody")[0], "tr")
	require.Len(t, rows, 4)
	assert.Contains(t, text(rows[0]), "b-1")
	assert.Contains(t, text(rows[0]), "baseline")
	assert.Contains(t, text(rows[3]), "c-2")
	assert.Contains(t, text(rows[3]), "candidate")
}

func TestRenderEscapesHostileStrings(t *testing.T) {
	const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`
	res := pairedResults(t, `"><svg onload=alert(1)>`, "agent-2")
	d := fullData(res)
	d.Experiment.Name = "</title>" + hostile
	d.Experiment.Description = hostile
	d.Experiment.ID = `x" onmouseover="alert(1)`
	d.Experiment.Selector = hostile
	d.Experiment.Targets = []string{hostile}
	d.Configs = []Config{{Name: hostile, YAML: "key: </code></pre>" + hostile}}
	d.Events = []Event{{Time: t0, From: hostile, To: hostile, Cause: hostile}}
	d.Results.Warnings = []string{hostile}
	doc := render(t, d)
	root := parse(t, doc)

	assert.Empty(t, elements(root, "script"))
	assert.Empty(t, elements(root, "img"))
	assert.Len(t, elements(root, "svg"), 1+len(res.Costs), "only the charts' SVG")
	for _, e := range elements(root, "") {
		for _, a := range e.Attr {
			assert.False(t, strings.HasPrefix(a.Key, "on"), "event handler attribute %s on <%s>", a.Key, e.Data)
		}
	}
	assert.Contains(t, doc, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	assert.Equal(t, "Phoenix experiment report — </title>"+hostile, text(elements(root, "title")[0]))
	// The configuration survives escaping intact.
	assert.Equal(t, "key: </code></pre>"+hostile, text(elements(configs(root)[0], "code")[0]))
	assertSelfContained(t, doc)
}

func TestRenderWithoutResults(t *testing.T) {
	d := fullData(pairedResults(t))
	d.Results = nil
	d.ResultsNote = "analysis: insufficient data: agent a1: no samples"
	root := parse(t, render(t, d))
	verdict := byID(root, "verdict")
	require.NotNil(t, verdict)
	assert.Contains(t, text(verdict), "No results")
	assert.Contains(t, text(verdict), "agent a1: no samples")
	assert.Empty(t, elements(root, "svg"))
	assert.Contains(t, text(root), "running → completed", "metadata and timeline still render")

	d.ResultsNote = ""
	d.Events, d.Configs = nil, nil
	all := text(parse(t, render(t, d)))
	assert.Contains(t, all, "This experiment has not been analysed.")
	assert.Contains(t, all, "No events recorded.")
	assert.Contains(t, all, "No configuration recorded.")
}

func TestRenderInterim(t *testing.T) {
	d := fullData(pairedResults(t))
	d.Interim = true
	assert.Contains(t, render(t, d), "Interim results: the experiment is still running")
	d.Interim = false
	assert.NotContains(t, render(t, d), "Interim results")
}

func TestRenderWritesNothingOnError(t *testing.T) {
	var buf bytes.Buffer
	err := Render(&buf, Data{Results: &apitypes.Results{}})
	require.Error(t, err, "results without variants cannot be shown")
	assert.Contains(t, err.Error(), "report:")
	assert.Zero(t, buf.Len())
}

// configs are the configuration blocks.
func configs(root *html.Node) []*html.Node {
	var out []*html.Node
	for _, d := range elements(root, "details") {
		if attr(d, "class") == "config" {
			out = append(out, d)
		}
	}
	return out
}

// assetRef finds anything that would load from elsewhere: src/href/xlink
// attributes with a scheme or //, CSS url() and @import, <link>, <script src>.
var assetRef = regexp.MustCompile(`(?i)(\b(src|href|xlink:href|action|poster|data)\s*=\s*["']?\s*([a-z]+:|//))|url\(|@import|<link\b|<script\s+src`)

func assertSelfContained(t *testing.T, doc string) {
	t.Helper()
	assert.NotRegexp(t, assetRef, doc)
	assert.NotContains(t, doc, "<script")
	root := parse(t, doc)
	for _, e := range elements(root, "") {
		for _, a := range e.Attr {
			if a.Key == "src" || a.Key == "href" {
				t.Errorf("<%s %s=%q> refers to an asset", e.Data, a.Key, a.Val)
			}
			if strings.Contains(a.Val, "http://") || strings.Contains(a.Val, "https://") {
				t.Errorf("<%s %s=%q> holds a URL", e.Data, a.Key, a.Val)
			}
		}
	}
	// A content security policy forbids loading anything anyway.
	var csp string
	for _, m := range elements(root, "meta") {
		if attr(m, "http-equiv") == "Content-Security-Policy" {
			csp = attr(m, "content")
		}
	}
	assert.Contains(t, csp, "default-src 'none'")
}

func TestFormat(t *testing.T) {
	for in, want := range map[float64]string{0: "0", 7000: "7,000", 1234567.8: "1,234,568", -2500: "-2,500", 45.5: "45.5",
		7: "7", 12.04: "12", 0.0165: "0.0165", 0.5: "0.5", 150: "150"} {
		assert.Equal(t, want, formatNumber(in), "%g", in)
	}
	for in, want := range map[float64]string{0: "$0.00", 12.96: "$12.96", 1234.5: "$1,234.50", 0.0631944: "$0.0632",
		-3: "−$3.00", 99.999: "$100.00"} {
		assert.Equal(t, want, formatUSD(in), "%g", in)
	}
	for in, want := range map[float64]string{0.3: "$0.30", 6.5: "$6.50", 0.025: "$0.025", 1200: "$1,200.00"} {
		assert.Equal(t, want, formatPrice(in), "%g", in)
	}
	for in, want := range map[float64]string{512: "512 B", 1e6: "1.0 MB", 1.5e9: "1.5 GB", 120e3: "120.0 kB"} {
		assert.Equal(t, want, formatBytes(in), "%g", in)
	}
	assert.Equal(t, "−90.0%", change(7000, 700))
	assert.Equal(t, "+10.0%", change(1, 1.1))
	assert.Equal(t, "—", change(0, 1))
	assert.Equal(t, "—", formatTime(time.Time{}))
	assert.Equal(t, "—", formatInterval(nil))
	assert.Equal(t, "per GB ingested", unitLabel(apitypes.PriceModel{Unit: apitypes.UnitGBIngested, Per: 1}))
	assert.Equal(t, "per 1,000 active series per month", unitLabel(apitypes.PriceModel{Unit: apitypes.UnitActiveSeries, Per: 1000}))
	assert.Equal(t, "1 agent", plural(1, "agent", "agents"))
	assert.Equal(t, "0 agents", plural(0, "agent", "agents"))
}

func TestRenderRollout(t *testing.T) {
	d := fullData(pairedResults(t))
	root := parse(t, render(t, d))
	assert.Nil(t, byID(root, "rollout"), "no rollout before a promote")

	d.Rollout = &apitypes.Rollout{State: apitypes.RolloutHalted, GateTimeout: apitypes.Duration(5 * time.Minute), MinCriticalRetention: 1,
		Reason: "wave 2 of 2 (100%, 1 agent(s)) failed its gate: agent a2 went unhealthy <on> the candidate",
		Waves: []apitypes.RolloutWave{
			{Percent: 50, Size: 2, State: apitypes.WavePassed, Applied: 1, Healthy: 1, Reporting: 1, Removed: 1, Agents: make([]apitypes.RolloutAgent, 2)},
			{Percent: 100, Size: 1, State: apitypes.WaveFailed, Applied: 1, Agents: make([]apitypes.RolloutAgent, 1), Reason: "agent a2 went unhealthy <on> the candidate"},
		}}
	root = parse(t, render(t, d))
	require.NotNil(t, byID(root, "rollout"))
	all := text(root)
	assert.Contains(t, all, "Promoted in 2 wave(s): halted, gate timeout 5m0s, least critical retention 100.0%.")
	assert.Contains(t, all, "Halted: wave 2 of 2 (100%, 1 agent(s)) failed its gate: agent a2 went unhealthy <on> the candidate", "escaped, shown as text")
	assert.Contains(t, all, "50%+2passed1/11/11/11 removed from the inventory", "a removed agent is counted apart")
	assert.Contains(t, all, "100%+1failed1/10/10/1agent a2 went unhealthy <on> the candidate")
}
