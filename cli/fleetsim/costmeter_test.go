package fleetsim

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/owntelemetry"
)

func configMap(t *testing.T, bodies map[string]string) *protobufs.AgentConfigMap {
	t.Helper()
	cm := &protobufs.AgentConfigMap{ConfigMap: map[string]*protobufs.AgentConfigFile{}}
	for name, body := range bodies {
		cm.ConfigMap[name] = &protobufs.AgentConfigFile{Body: []byte(body), ContentType: "text/yaml"}
	}
	return cm
}

func testUID(i int) string { return fmt.Sprintf("0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c%02x", i) }

func golden(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile("../../pipelines/catalog/testdata/" + name + ".golden.yaml")
	require.NoError(t, err)
	return string(raw)
}

func TestCostMeterVariantsAreThoseTheConfigurationRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		bodies map[string]string
		want   []string
	}{
		{"a paired experiment's (the catalog's render)", map[string]string{"": golden(t, "paired-baseline-topk-rollup")}, []string{"baseline", "candidate"}},
		{"an ordinary pipeline's", map[string]string{"": golden(t, "baseline")}, []string{"baseline"}},
		{"meters outside every pipeline are not built", map[string]string{"": `
processors:
  cost_meter/unused: {variant: candidate}
  cost_meter: {variant: baseline}
  batch/x: {variant: other}
service:
  pipelines:
    metrics/a: {processors: [batch/x, cost_meter]}
    metrics/b: {processors: [cost_meter]}
`}, []string{"baseline"}},
		{"files are merged", map[string]string{
			"a.yaml": "processors:\n  cost_meter/candidate: {variant: candidate}\n",
			"b.yaml": "service:\n  pipelines:\n    metrics: {processors: [cost_meter/candidate]}\n",
		}, []string{"candidate"}},
		{"an unreadable configuration runs nothing", map[string]string{"": "processors: ["}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, costMeterVariants(configMap(t, tc.bodies)))
		})
	}
}

// exportsOver are what agent i's collector, running meters since start,
// sends every 20 s for four minutes, as the server keeps them.
func exportsOver(t *testing.T, o Options, i int, meters []string, start time.Time) []apitypes.Sample {
	t.Helper()
	a := &agent{f: &Fleet{o: o.withDefaults()}, index: i, id: Identity{InstanceUID: testUID(i)}}
	var samples []apitypes.Sample
	for at := start.Add(time.Second); at.Before(start.Add(4 * time.Minute)); at = at.Add(20 * time.Second) {
		ex := owntelemetry.Extract(a.ownMetrics(start, at, meters), owntelemetry.Rules{Now: at})
		require.Empty(t, ex.Dropped, "the server keeps every point")
		samples = append(samples, ex.Samples...)
	}
	return samples
}

// analyse runs the server's analysis over the agents' samples from the
// second to the fourth minute.
func analyse(t *testing.T, mode apitypes.Mode, start time.Time, agents []analysis.AgentInput) apitypes.Results {
	t.Helper()
	from := start.Truncate(time.Minute).Add(time.Minute)
	res, err := analysis.Analyze(analysis.Input{Mode: mode, From: from, To: from.Add(3 * time.Minute), Agents: agents,
		Criteria: apitypes.Criteria{MinSeriesReduction: 0.5}})
	require.NoError(t, err)
	return res
}

func TestAPairedExperimentsOwnTelemetryReachesAVerdict(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(-10 * time.Minute)
	o := Options{Count: 3, Server: "http://127.0.0.1:1"}
	var agents []analysis.AgentInput
	both := []string{apitypes.VariantBaseline, apitypes.VariantCandidate}
	for i := range 3 {
		agents = append(agents, analysis.AgentInput{InstanceUID: testUID(i),
			Variants: both, Samples: exportsOver(t, o, i, both, start)})
	}
	res := analyse(t, apitypes.ModePaired, start, agents)
	assert.True(t, res.Verdict.Pass, "%+v", res.Verdict)
	assert.InDelta(t, 1-DefaultCandidateShare, res.Derived.SeriesReduction.Value, 0.01)
	assert.InDelta(t, 1-DefaultCandidateShare, res.Derived.BytesReduction.Value, 0.01)
	assert.InDelta(t, 1-DefaultCandidateShare, res.Derived.DatapointsReduction.Value, 0.01)
	assert.Equal(t, 1.0, res.Derived.CriticalRetention)
	assert.Empty(t, res.Warnings)
	// Fidelity: the candidate's coverage, every quantity conserved, a few
	// blind spots with their examples.
	f := res.Fidelity
	require.NotNil(t, f)
	assert.Equal(t, 3, f.Agents)
	cpu, memory := fidelityCoverage(DefaultCandidateShare)
	require.NotNil(t, f.CPUCoverage, "%+v", f)
	assert.InDelta(t, cpu, *f.CPUCoverage, 1e-3)
	assert.InDelta(t, memory, *f.MemoryCoverage, 1e-3)
	require.NotNil(t, f.Conserved)
	assert.True(t, *f.Conserved, "%+v", f.Conservation)
	assert.Len(t, f.Conservation, 4, "network I/O is not scraped")
	require.NotNil(t, f.BlindSpotsPerHour)
	assert.Positive(t, *f.BlindSpotsPerHour)
	assert.Greater(t, *f.NotableProcessesPerHour, *f.BlindSpotsPerHour)
	require.NotEmpty(t, f.BlindSpotExamples)
	assert.Equal(t, "batch-job-1", f.BlindSpotExamples[0].Name)

	// The same agents, their figures fixed by index: the same results.
	again := analyse(t, apitypes.ModePaired, start, agents)
	assert.Equal(t, res.Variants, again.Variants)

	// A candidate that keeps everything saves nothing, and fails.
	o.CandidateShare = 1
	for i := range agents {
		agents[i].Samples = exportsOver(t, o, i, both, start)
	}
	res = analyse(t, apitypes.ModePaired, start, agents)
	assert.False(t, res.Verdict.Pass)
	assert.InDelta(t, 0, res.Derived.SeriesReduction.Value, 1e-9)
}

func TestASplitExperimentsOwnTelemetryReachesAVerdict(t *testing.T) {
	t.Parallel()
	start := time.Now().Add(-10 * time.Minute)
	o := Options{Count: 4, Server: "http://127.0.0.1:1", CandidateShare: 0.3}
	var agents []analysis.AgentInput
	for i := range 4 {
		v := []string{apitypes.VariantBaseline, apitypes.VariantCandidate}[i%2]
		agents = append(agents, analysis.AgentInput{InstanceUID: testUID(i),
			Variants: []string{v}, Samples: exportsOver(t, o, i, []string{v}, start)})
	}
	res := analyse(t, apitypes.ModeSplit, start, agents)
	assert.True(t, res.Verdict.Pass, "%+v", res.Verdict)
	// Cohorts of different hosts: about the share, not exactly.
	assert.InDelta(t, 0.7, res.Derived.SeriesReduction.Value, 0.25)
	require.NotNil(t, res.Derived.CPUIncrease, "split mode compares the collectors' CPU")
	// Split mode: the candidate's own coverage, no conservation or blind spots.
	cpu, _ := fidelityCoverage(0.3)
	require.NotNil(t, res.Fidelity.CPUCoverage)
	assert.InDelta(t, cpu, *res.Fidelity.CPUCoverage, 1e-3)
	assert.True(t, res.Fidelity.CoverageUpperBound)
	assert.Nil(t, res.Fidelity.BlindSpotsPerHour)
	assert.Empty(t, res.Fidelity.BlindSpotExamples)
}
