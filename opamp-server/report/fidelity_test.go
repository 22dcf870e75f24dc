package report

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestRenderFidelity(t *testing.T) {
	res := pairedResults(t)
	res.Fidelity = &apitypes.Fidelity{
		Variant: "candidate", Agents: 3, CPUCoverage: new(0.931), MemoryCoverage: new(0.88),
		Conservation: []apitypes.Conservation{
			{Quantity: "cpu", Baseline: 1800, Candidate: 1800, Under1Percent: true},
			{Quantity: "disk", Baseline: 1 << 20, Candidate: 0.9 * (1 << 20), Error: 0.1},
		},
		Conserved: new(false), BlindSpotsPerHour: new(1.5), NotableProcessesPerHour: new(12.0),
		BlindSpotExamples: []apitypes.BlindSpotExample{
			{Name: "java", Host: "web-1", InstanceUID: "agent-1", Resource: "cpu", Peak: 2.5},
			{Name: "<script>alert(1)</script>", Host: "web-2", InstanceUID: "agent-2", Resource: "memory", Peak: 3 << 30},
		},
		Notes: []string{"network conservation not measured: the baseline counted none"},
	}
	doc := render(t, fullData(res))
	root := parse(t, doc)
	sec := byID(root, "fidelity")
	require.NotNil(t, sec)
	assert.Equal(t, "Fidelity of the candidate", text(sec))
	all := text(root)
	for _, want := range []string{"CPU coverage93.1%", "Memory coverage88.0%", "Blind spots per agent-hour1.5",
		"Notable processes per agent-hour12", "Conserved within 1%no", "cpu1,800 CPU s1,800 CPU s0.00%yes",
		"disk1.0 MB943.7 kB10.00%no", "Worst blind spots", "javaweb-1agent-1cpu2.5 cores",
		"<script>alert(1)</script>web-2agent-2memory3.2 GB", "network conservation not measured"} {
		assert.Contains(t, all, want)
	}
	assert.NotContains(t, doc, "<script>", "an agent's process name is escaped")
	assertSelfContained(t, doc)

	res.Fidelity = &apitypes.Fidelity{Variant: "candidate", Notes: []string{"no fidelity figures: the collectors did not export them"}}
	all = text(parse(t, render(t, fullData(res))))
	assert.Contains(t, all, "CPU coverage—")
	assert.Contains(t, all, "no fidelity figures")
	assert.NotContains(t, all, "Worst blind spots")
	assert.NotContains(t, all, "Blind spots per agent-hour")

	res.Fidelity = nil // results analysed before fidelity figures existed
	assert.Nil(t, byID(parse(t, render(t, fullData(res))), "fidelity"))
}
