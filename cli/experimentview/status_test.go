package experimentview

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestBar(t *testing.T) {
	t.Parallel()
	for p, want := range map[float64]string{
		0:     "[····················]   0%",
		0.5:   "[██████████··········]  50%",
		0.024: "[····················]   2%",
		0.026: "[█···················]   3%",
		1:     "[████████████████████] 100%",
	} {
		assert.Equal(t, want, bar(p), "%g", p)
	}
}

func TestPrintStatus(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	x := apitypes.Experiment{
		ID: "exp-1", Name: "web", Status: apitypes.ExperimentRunning, Progress: 0.5,
		Spec: apitypes.ExperimentSpec{Description: "web hosts", Mode: "split", Baseline: apitypes.Variant{Current: true},
			Candidate: apitypes.Variant{Pipeline: "topk"}, Targets: apitypes.Targets{Selector: "env=prod"}},
		State: apitypes.ExperimentState{RunningSince: start, MeasureFrom: start.Add(time.Minute), EndsAt: start.Add(11 * time.Minute),
			Targets: []apitypes.ExperimentTarget{{InstanceUID: "a1", Host: "web-1", Variant: "baseline", Applied: true}, {InstanceUID: "a2", Variant: "candidate"}},
			TargetSummary: &apitypes.TargetSummary{Total: 2, Applied: 1, ByVariant: map[string]apitypes.VariantTargets{
				"candidate": {Total: 1}, "baseline": {Total: 1, Applied: 1}}},
			Error: "agent a2 is slow", Promoted: true},
		Events: []apitypes.ExperimentEvent{
			{Time: start.Add(-time.Minute), To: "pending", Cause: "created"},
			{Time: start, From: "deploying", To: "running", Cause: "every target applied its configuration"},
			{Time: start.Add(2 * time.Minute), Cause: "promoted: candidate assigned to every target"},
		},
	}
	var b strings.Builder
	require.NoError(t, PrintStatus(&b, x, start.Add(6*time.Minute)))
	clock := func(t time.Time) string { return t.Local().Format(time.TimeOnly) }
	assert.Equal(t, `Experiment:   web (exp-1)
Description:  web hosts
Mode:         split, each agent's current configuration vs topk, targets env=prod
Status:       running  [██████████··········]  50%
Targets:      2 targets, applied 1/2 (baseline 1/1, candidate 0/1)
Measuring:    `+clock(x.State.MeasureFrom)+` → `+clock(x.State.EndsAt)+` (5m0s left)
Error:        agent a2 is slow
Rollout:      promoted=true rolled_back=false

TARGETS
INSTANCE UID  HOST   VARIANT    APPLIED
a1            web-1  baseline   true
a2            -      candidate  false

EVENTS
  `+clock(start.Add(-time.Minute))+`  ∅ → pending: created
  `+clock(start)+`  deploying → running: every target applied its configuration
  `+clock(start.Add(2*time.Minute))+`  promoted: candidate assigned to every target
`, b.String())
}

func TestTargetsLine(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "3 targets, applied 2/3", TargetsLine(apitypes.TargetSummary{Total: 3, Applied: 2,
		ByVariant: map[string]apitypes.VariantTargets{"both": {Total: 3, Applied: 2}}}), "paired: the totals say it all")
	assert.Equal(t, "0 targets, applied 0/0", TargetsLine(apitypes.TargetSummary{}))
}

func TestRemaining(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	x := apitypes.Experiment{Status: apitypes.ExperimentRunning,
		State: apitypes.ExperimentState{MeasureFrom: start.Add(time.Minute), EndsAt: start.Add(3 * time.Minute)}}
	assert.Equal(t, "warming up, 45s to go", remaining(x, start.Add(15*time.Second)))
	assert.Equal(t, "1m30s left", remaining(x, start.Add(90*time.Second)))
	assert.Equal(t, "analysing", remaining(x, start.Add(3*time.Minute)))
	x.Status = apitypes.ExperimentFailed
	assert.Equal(t, "done", remaining(x, start))
}
