package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// meter writes n minutes of one variant's cost_meter series on an agent:
// counters growing by the given rates, gauges constant.
func meter(samples []apitypes.Sample, uid, variant string, n int, datapoints, byts, active, critical float64) []apitypes.Sample {
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		add := func(name string, v float64) {
			samples = append(samples, apitypes.Sample{InstanceUID: uid, Name: name, Variant: variant, Minute: at, Value: v})
		}
		add(analysis.SeriesDatapoints, datapoints*float64(i))
		add(analysis.SeriesBytes, byts*float64(i))
		add(analysis.SeriesProcessResources, datapoints/7*float64(i))
		add(analysis.SeriesActiveSeries, active+float64(i%3)*10)
		add(analysis.SeriesCriticalProcesses, critical)
	}
	return samples
}

func collector(samples []apitypes.Sample, uid string, n int, cores, rss float64) []apitypes.Sample {
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		samples = append(samples,
			apitypes.Sample{InstanceUID: uid, Name: analysis.SeriesCPUSeconds, Minute: at, Value: cores * 60 * float64(i)},
			apitypes.Sample{InstanceUID: uid, Name: analysis.SeriesMemoryRSS, Minute: at, Value: rss})
	}
	return samples
}

// pairedResults analyses three paired agents over ten minutes.
func pairedResults(t *testing.T, uids ...string) *apitypes.Results {
	t.Helper()
	if len(uids) == 0 {
		uids = []string{"agent-1", "agent-2", "agent-3"}
	}
	in := analysis.Input{Mode: apitypes.ModePaired, From: t0, To: t0.Add(10 * time.Minute),
		Criteria: apitypes.Criteria{MinSeriesReduction: 0.5}}
	for i, uid := range uids {
		var s []apitypes.Sample
		s = meter(s, uid, apitypes.VariantBaseline, 10, 7000, 1e6, 7000+float64(i)*500, 12)
		s = meter(s, uid, apitypes.VariantCandidate, 10, 700, 1.1e5, 650+float64(i)*40, 12)
		in.Agents = append(in.Agents, analysis.AgentInput{InstanceUID: uid,
			Variants: []string{apitypes.VariantBaseline, apitypes.VariantCandidate}, Samples: s})
	}
	res, err := analysis.Analyze(in)
	require.NoError(t, err)
	return &res
}

// splitResults analyses a two-agent cohort per variant over five minutes.
func splitResults(t *testing.T) *apitypes.Results {
	t.Helper()
	in := analysis.Input{Mode: apitypes.ModeSplit, From: t0, To: t0.Add(5 * time.Minute),
		Criteria: apitypes.Criteria{MinSeriesReduction: 0.5, MaxCPUIncrease: new(0.05)}}
	for i, uid := range []string{"b-1", "b-2", "c-1", "c-2"} {
		v, dp, active, cores := apitypes.VariantBaseline, 7000.0, 7000.0, 0.02
		if i >= 2 {
			v, dp, active, cores = apitypes.VariantCandidate, 700, 700, 0.03
		}
		s := meter(nil, uid, v, 5, dp, dp*140, active+float64(i)*100, 10)
		s = collector(s, uid, 5, cores+float64(i)*0.001, 150e6)
		in.Agents = append(in.Agents, analysis.AgentInput{InstanceUID: uid, Variants: []string{v}, Samples: s})
	}
	res, err := analysis.Analyze(in)
	require.NoError(t, err)
	return &res
}

func fullData(res *apitypes.Results) Data {
	return Data{
		Experiment: Experiment{
			ID: "exp-7f3a", Name: "Top-k 50 on web tier", Description: "Keep the 50 busiest processes plus critical ones.",
			Mode: string(res.Mode), Status: "completed", Selector: "tier=web", Targets: []string{"agent-1", "agent-2", "agent-3"},
			BaselinePipeline: "process-baseline", CandidatePipeline: "process-topk",
			CreatedAt: t0.Add(-5 * time.Minute), StartedAt: t0.Add(-3 * time.Minute),
			MeasureFrom: res.From, MeasureTo: res.To, FinishedAt: res.To.Add(time.Minute),
		},
		Results: res,
		Configs: []Config{{Name: "paired", YAML: "receivers:\n  hostmetrics: {}\n"}},
		Events: []Event{
			{Time: t0.Add(-5 * time.Minute), To: "pending", Cause: "created"},
			{Time: t0.Add(-4 * time.Minute), From: "pending", To: "deploying", Cause: "started"},
			{Time: t0.Add(-3 * time.Minute), From: "deploying", To: "running", Cause: "every target applied its configuration"},
			{Time: res.To, From: "running", To: "completed", Cause: "analysed: verdict pass"},
		},
		GeneratedAt: res.To.Add(2 * time.Minute),
	}
}

func render(t *testing.T, d Data) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, Render(&buf, d))
	return buf.String()
}

// parse returns the document's element tree.
func parse(t *testing.T, doc string) *html.Node {
	t.Helper()
	n, err := html.Parse(strings.NewReader(doc))
	require.NoError(t, err)
	return n
}

// elements returns every element named tag (any tag when empty) below n.
func elements(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	for d := range n.Descendants() {
		if d.Type == html.ElementNode && (tag == "" || d.Data == tag) {
			out = append(out, d)
		}
	}
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// text is the text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

func byID(n *html.Node, id string) *html.Node {
	for _, e := range elements(n, "") {
		if attr(e, "id") == id {
			return e
		}
	}
	return nil
}
