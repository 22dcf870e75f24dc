package experimentview

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestPrintResultsOfASplitExperiment(t *testing.T) {
	t.Parallel()
	r := clitest.Results()
	r.Costs = nil
	r.Warnings = nil
	r.Verdict = apitypes.Verdict{}
	r.Derived.CPUIncrease = &apitypes.Estimate{Value: 0.052, Interval: &apitypes.Interval{Low: -0.01, High: 0.11}}
	var out bytes.Buffer
	require.NoError(t, PrintResults(&out, r))
	assert.Contains(t, out.String(), "Collector CPU change:  +5.2% (95% CI -1.0% to +11.0%)\n")
	assert.NotContains(t, out.String(), "PRICE MODEL")
	assert.True(t, strings.HasSuffix(out.String(), "\nVerdict: FAIL\n"), out.String())
	assert.Equal(t, "+5.2%", signedEstimate(apitypes.Estimate{Value: 0.052}))
}

func TestBytesHuman(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB",
	} {
		assert.Equal(t, want, bytesHuman(in), "%g", in)
	}
}

func TestPrintFidelity(t *testing.T) {
	t.Parallel()
	r := clitest.Results()
	r.Fidelity = nil // results analysed before fidelity figures existed
	var out bytes.Buffer
	require.NoError(t, PrintResults(&out, r))
	assert.NotContains(t, out.String(), "Fidelity")

	r.Fidelity = &apitypes.Fidelity{Variant: "candidate", CPUCoverage: ptr(0.75), CoverageUpperBound: true, Agents: 1,
		Notes: []string{"split mode: conservation and blind spots are not measurable in split mode"}}
	out.Reset()
	require.NoError(t, PrintResults(&out, r))
	for _, want := range []string{
		"Fidelity of the candidate (1 agent with fidelity figures):\n",
		"  CPU coverage:          75.0% (upper bound: split mode)\n",
		"  Memory coverage:       not measured\n",
		"  note: split mode: conservation and blind spots are not measurable in split mode\n",
	} {
		assert.Contains(t, out.String(), want)
	}
	assert.NotContains(t, out.String(), "Conserved")
	assert.NotContains(t, out.String(), "WORST BLIND SPOTS")
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"java": "java", "": "-", "naïve app": "naïve app", "a\x1b[2J": `"a\x1b[2J"`, "tab\there": `"tab\there"`} {
		assert.Equal(t, want, Printable(in), "%q", in)
	}
}

func ptr[T any](v T) *T { return &v }
