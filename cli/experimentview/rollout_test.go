package experimentview

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestPrintRolloutShowsWhyItHalted(t *testing.T) {
	t.Parallel()
	agents := func(n int) []apitypes.RolloutAgent { return make([]apitypes.RolloutAgent, n) }
	r := apitypes.Rollout{State: apitypes.RolloutHalted, GateTimeout: apitypes.Duration(5 * time.Minute),
		Reason: "wave 2 of 3 (10%, 9 agent(s)) failed its gate: agent a7 (web-7) could not apply the candidate: bind: address already in use",
		Waves: []apitypes.RolloutWave{
			{Percent: 1, Size: 1, State: apitypes.WavePassed, Applied: 1, Healthy: 1, Reporting: 1, Agents: agents(1)},
			{Percent: 10, Size: 9, State: apitypes.WaveFailed, Applied: 6, Healthy: 6, Reporting: 2, Agents: agents(9),
				Reason: "agent a7 (web-7) could not apply the candidate: bind: address already in use"},
			{Percent: 100, Size: 90, State: apitypes.WavePending, Agents: agents(90)},
		}}
	var b strings.Builder
	require.NoError(t, PrintRollout(&b, r))
	assert.Equal(t, `ROLLOUT  halted, wave 2 of 3, gate timeout 5m0s
Halted:  wave 2 of 3 (10%, 9 agent(s)) failed its gate: agent a7 (web-7) could not apply the candidate: bind: address already in use
WAVE  TARGETS  AGENTS  STATE    APPLIED  HEALTHY  REPORTING  REASON
1     1%       +1      passed   1/1      1/1      1/1        -
2     10%      +9      failed   6/9      6/9      2/9        agent a7 (web-7) could not apply the candidate: bind: address already in use
3     100%     +90     pending  0/90     0/90     0/90       -
`, b.String())
	x := apitypes.Experiment{ID: "exp-1", Status: apitypes.ExperimentCompleted, State: apitypes.ExperimentState{Rollout: &r}}
	assert.False(t, following(x), "a halted rollout is over")
	assert.Equal(t, "exp-1 rollout halted    wave 2 of 3 (10%, failed): applied 6/9, healthy 6/9, reporting 2/9", rolloutLine(x))
	r.State = apitypes.RolloutRolling
	assert.True(t, following(x), "watch follows a rollout in progress")
}

func TestPrintRolloutCountsRemovedAgentsApart(t *testing.T) {
	t.Parallel()
	r := apitypes.Rollout{State: apitypes.RolloutRolling, GateTimeout: apitypes.Duration(5 * time.Minute),
		Waves: []apitypes.RolloutWave{
			{Percent: 50, Size: 4, State: apitypes.WavePassed, Applied: 3, Healthy: 3, Reporting: 3, Removed: 1, Agents: make([]apitypes.RolloutAgent, 4)},
			{Percent: 100, Size: 4, State: apitypes.WaveRolling, Applied: 1, Removed: 2, Agents: make([]apitypes.RolloutAgent, 4),
				Reason: "waiting: agent a7 (web-7): not applied yet"},
		}}
	var b strings.Builder
	require.NoError(t, PrintRollout(&b, r))
	assert.Equal(t, `ROLLOUT  rolling, wave 2 of 2, gate timeout 5m0s
WAVE  TARGETS  AGENTS  STATE    APPLIED  HEALTHY  REPORTING  REASON
1     50%      +4      passed   3/3      3/3      3/3        1 removed from the inventory
2     100%     +4      rolling  1/2      0/2      0/2        2 removed from the inventory; waiting: agent a7 (web-7): not applied yet
`, b.String())
	assert.Equal(t, "ro-1 rollout rolling   wave 2 of 2 (100%, rolling): applied 1/2, healthy 0/2, reporting 0/2, 2 removed", RolloutLine("ro-1", r))
}
