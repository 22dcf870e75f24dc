package analysis

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestPercent(t *testing.T) {
	t.Parallel()
	for in, want := range map[float64]string{0: "0%", 0.5: "50%", 1: "100%", 0.125: "12.5%", 0.1: "10%", 0.07: "7%", 0.333333333: "33.333333%"} {
		assert.Equal(t, want, percent(in), "%g", in)
	}
}

func TestPercentAgainst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		f, threshold float64
		want         string
	}{
		{0.931, 0.5, "93.1%"},
		{1, 1, "100.0%"},
		{0.99996, 1, "99.996%"},
		{0.4999, 0.5, "49.99%"},
		{0.50004, 0.5, "50.004%"},
		{-0.5, 0, "-50.0%"},
		{1 - 1e-12, 1, "100.000000%"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentAgainst(tt.f, tt.threshold), "%g vs %g", tt.f, tt.threshold)
	}
}

func TestCPUCheck(t *testing.T) {
	t.Parallel()
	inc := &apitypes.Estimate{Value: 0.042}
	assert.Equal(t, apitypes.Check{Criterion: apitypes.CriterionCPUIncrease, Outcome: apitypes.OutcomePass, Reason: "collector CPU increase 4.2% ≤ 10% allowed"},
		cpuCheck(apitypes.ModeSplit, ptr(0.1), inc))
	assert.Equal(t, apitypes.Check{Criterion: apitypes.CriterionCPUIncrease, Outcome: apitypes.OutcomePass, Reason: "collector CPU increase 10.0% ≤ 10% allowed"},
		cpuCheck(apitypes.ModeSplit, ptr(0.1), &apitypes.Estimate{Value: 0.1}))
	assert.Equal(t, apitypes.Check{Criterion: apitypes.CriterionCPUIncrease, Outcome: apitypes.OutcomeNotJudged, Reason: "collector CPU not compared in paired mode"},
		cpuCheck(apitypes.ModePaired, nil, nil))
}
