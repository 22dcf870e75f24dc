package experimentview

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestPrintResultsRanksSeveralCandidates(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, PrintResults(&out, clitest.MultiResults()))
	golden(t, "results-multi.txt", out.String())
	s := out.String()
	assert.True(t, strings.HasPrefix(s, "Candidates, ranked (3):\nRANK  NAME "), s)
	assert.Contains(t, s, "\nrecommended: topk-rollup-k10 — the cheapest that meets every criterion\n")
	assert.Contains(t, s, "\nThe first ranked, topk-rollup-k10, against the baseline:\n")
	// The first ranked's cost is read under its own variant name.
	assert.Contains(t, s, "New Relic               $12.50                 $1.50")
	assert.Contains(t, s, "Fidelity of the topk-rollup-k10")
}

func TestCandidatesTable(t *testing.T) {
	t.Parallel()
	r := clitest.MultiResults()
	var out bytes.Buffer
	require.NoError(t, printCandidates(&out, r))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 6)
	assert.Equal(t, []string{"RANK", "NAME", "PIPELINE", "SERIES", "REDUCTION", "CPU", "COVERAGE", "BLIND", "SPOTS/H", "CONSERVED",
		"MONTHLY", "(New", "Relic)", "VERDICT"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"1", "topk-rollup-k10", "topk-rollup", "k=10", "88.5%", "93.1%", "0.50", "yes", "$3.00", "pass"}, strings.Fields(lines[2]))
	assert.Equal(t, []string{"2", "topk-k10", "topk", "k=10", "rank_by=[cpu,memory]", "90.0%", "-", "-", "-", "$4.50", "pass"}, strings.Fields(lines[3]))
	assert.Equal(t, []string{"3", "topk-rollup-k5", "topk-rollup", "k=5", "93.3%", "80.0%", "3.20", "NO", "$2.00", "FAIL:", "max_blind_spots_per_hour"},
		strings.Fields(lines[4]))

	r.Recommended = ""
	r.Candidates[0].Name = "evil\x1b[2J"
	out.Reset()
	require.NoError(t, printCandidates(&out, r))
	assert.True(t, strings.HasSuffix(out.String(), "\nno candidate meets every criterion\n"), out.String())
	assert.Contains(t, out.String(), `"evil\x1b[2J"`, "a name cannot drive the terminal")
	assert.NotContains(t, out.String(), "\x1b")
}

func TestStatusOfSeveralCandidates(t *testing.T) {
	t.Parallel()
	x := apitypes.Experiment{ID: "exp-1", Name: "k", Status: apitypes.ExperimentPending,
		Spec: apitypes.ExperimentSpec{Mode: "paired", Baseline: apitypes.Variant{Pipeline: "baseline"}, Targets: apitypes.Targets{Selector: "env=test"},
			Candidates: []apitypes.NamedVariant{{Name: "topk-rollup-k5", Pipeline: "topk-rollup"}, {Pipeline: "topk", Parameters: map[string]any{"k": 10}}}}}
	var b strings.Builder
	require.NoError(t, PrintStatus(&b, x, time.Now()))
	assert.Contains(t, b.String(), "Mode:        paired, baseline vs 2 candidates (topk-rollup-k5, topk k=10), targets env=test\n")
}

func TestRolloutNamesItsCandidate(t *testing.T) {
	t.Parallel()
	r := apitypes.Rollout{State: apitypes.RolloutRolling, Candidate: "topk-rollup-k10", GateTimeout: apitypes.Duration(5 * time.Minute),
		Waves: []apitypes.RolloutWave{{Percent: 100, Size: 1, State: apitypes.WaveRolling, Agents: make([]apitypes.RolloutAgent, 1)}}}
	var b strings.Builder
	require.NoError(t, PrintRollout(&b, r))
	assert.True(t, strings.HasPrefix(b.String(), "ROLLOUT  rolling, wave 1 of 1, gate timeout 5m0s, candidate topk-rollup-k10\n"), b.String())
	assert.Equal(t, "exp-1 rollout rolling   wave 1 of 1 (100%, rolling): applied 0/1, healthy 0/1, reporting 0/1, candidate topk-rollup-k10",
		RolloutLine("exp-1", r))

	r.Candidate = apitypes.VariantCandidate // the single form: nothing to name
	b.Reset()
	require.NoError(t, PrintRollout(&b, r))
	assert.True(t, strings.HasPrefix(b.String(), "ROLLOUT  rolling, wave 1 of 1, gate timeout 5m0s\n"), b.String())
	assert.NotContains(t, RolloutLine("exp-1", r), "candidate")
}
