package experiment

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestParseWaves(t *testing.T) {
	t.Parallel()
	w, err := ParseWaves("1, 10,50%,100")
	require.NoError(t, err)
	assert.Equal(t, []float64{1, 10, 50, 100}, w)
	w, err = ParseWaves("")
	require.NoError(t, err)
	assert.Nil(t, w, "the server's default")
	_, err = ParseWaves("1,ten,100")
	assert.EqualError(t, err, `--waves: "ten" is not a number: give cumulative percentages such as 1,10,50,100`)
}

// gatePassed has an agent apply its assignment and, a minute later, report
// its own telemetry, as a healthy collector on the candidate does.
func gatePassed(t *testing.T, e *clitest.ExperimentServer, uid string) {
	t.Helper()
	ctx := t.Context()
	asg, err := e.Store.GetAssignment(ctx, uid)
	require.NoError(t, err)
	a, err := e.Store.GetAgent(ctx, uid)
	require.NoError(t, err)
	a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: asg.ConfigHash, Status: apitypes.ConfigStatusApplied}
	require.NoError(t, e.Store.UpsertAgent(ctx, a))
	e.Controller.ReconcileAll(ctx)
	e.Advance(time.Minute)
	require.NoError(t, e.Store.PutSamples(ctx, []apitypes.Sample{{InstanceUID: uid, Name: analysis.SeriesCriticalProcesses,
		Variant: "topk-rollup", Minute: e.Now().Truncate(time.Minute), Value: 3}}))
	e.Controller.ReconcileAll(ctx)
}

func TestPromoteInWavesAndWatchThem(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x := e.Completed("waves")

	_, _, err := e.Run(t, NewCmd, "promote", x.ID, "--waves", "10,5,100")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "waves: 5 after 10: each wave must reach more of the targets than the one before")
	_, _, err = e.Run(t, NewCmd, "promote", x.ID, "--gate-timeout", "3h")
	assert.ErrorContains(t, err, "gate_timeout: must be between 10s and 1h0m0s, got 3h0m0s")

	out, _, err := e.Run(t, NewCmd, "promote", x.ID, "--waves", "50,100", "--gate-timeout", "2m")
	require.NoError(t, err)
	assert.Equal(t, x.ID+`: promote (completed)

ROLLOUT  rolling, wave 1 of 2, gate timeout 2m0s
WAVE  TARGETS  AGENTS  STATE    APPLIED  HEALTHY  REPORTING  REASON
1     50%      +1      rolling  0/1      0/1      0/1        -
2     100%     +1      pending  0/1      0/1      0/1        -

Follow it with: phoenix experiment watch `+x.ID+"\n", out)

	out, _, err = e.Run(t, NewCmd, "status", x.ID, "-o", "json")
	require.NoError(t, err)
	var got apitypes.Experiment
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	require.NotNil(t, got.State.Rollout)
	assert.Len(t, got.State.Rollout.Waves, 2)
	assert.Equal(t, "a1", got.State.Rollout.Waves[0].Agents[0].InstanceUID)

	// watch follows the rollout, one line per change of its gate, until it
	// is over.
	e.Scripted(func() {}, func() { gatePassed(t, e, "a1") }, func() { gatePassed(t, e, "a2") })
	out, _, err = e.Run(t, NewCmd, "watch", x.ID, "--interval", "1ms")
	require.NoError(t, err)
	assert.Contains(t, out, x.ID+" rollout rolling   wave 1 of 2 (50%, rolling): applied 0/1, healthy 0/1, reporting 0/1\n")
	assert.Contains(t, out, x.ID+" rollout rolling   wave 2 of 2 (100%, rolling): applied 0/1, healthy 0/1, reporting 0/1\n")
	assert.Contains(t, out, "wave 1 of 2 (50%, 1 agent(s)) passed its gate\n")
	assert.Contains(t, out, "ROLLOUT  completed, all 2 wave(s) passed, gate timeout 2m0s\n")

	out, _, err = e.Run(t, NewCmd, "status", x.ID)
	require.NoError(t, err)
	assert.Contains(t, out, "1     50%      +1      passed  1/1      1/1      1/1        -\n")
}
