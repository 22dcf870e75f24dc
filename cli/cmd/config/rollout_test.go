package config

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var fleet = []string{"agent-1", "agent-2", "agent-3", "agent-4"}

func TestAssignInWavesFollowsTheRolloutToTheEnd(t *testing.T) {
	t.Parallel()
	srv := clitest.NewRolloutServer(t, fleet...)
	out, errOut, err := srv.Run(t, NewCmd, "assign", "--selector", "env=prod", "--pipeline", "topk-rollup",
		"--waves", "25,50,100", "--gate-timeout", "10m", "--poll", "1ms")
	require.NoError(t, err, "stdout: %s\nstderr: %s", out, errOut)
	assert.Regexp(t, `^rollout ro-\S+ started: 4 agent\(s\) in 3 wave\(s\), gate timeout 10m0s`, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.NotEmpty(t, lines)
	assert.Contains(t, lines[0], "rollout rolling   wave 1 of 3 (25%, rolling)")
	assert.Contains(t, out, "wave 2 of 3 (50%")
	assert.Contains(t, out, "wave 3 of 3 (100%")
	assert.Contains(t, lines[len(lines)-1], "rollout completed all 3 wave(s) passed")
	for _, uid := range fleet {
		asg, err := srv.Store.GetAssignment(t.Context(), uid)
		require.NoError(t, err)
		assert.Equal(t, "topk-rollup", asg.Pipeline, uid)
	}
}

func TestAssignInWavesExitsNonZeroWhenItHalts(t *testing.T) {
	t.Parallel()
	srv := clitest.NewRolloutServer(t, fleet...)
	srv.Fail["agent-2"] = true
	out, _, err := srv.Run(t, NewCmd, "assign", "--selector", "env=prod", "--pipeline", "topk-rollup", "--waves", "25,50,100", "--poll", "1ms")
	require.Error(t, err)
	assert.Regexp(t, `rollout ro-\S+ halted: wave 2 of 3 \(50%, 1 agent\(s\)\) failed its gate: agent agent-2 \(\) could not apply the new configuration: bad config`, err.Error())
	assert.Contains(t, out, "rollout halted")
	asg, err := srv.Store.GetAssignment(t.Context(), "agent-1")
	require.NoError(t, err)
	assert.Equal(t, "topk-rollup", asg.Pipeline, "the passed wave keeps it")
	for _, uid := range []string{"agent-2", "agent-3", "agent-4"} {
		_, err := srv.Store.GetAssignment(t.Context(), uid)
		assert.ErrorIs(t, err, store.ErrNotFound, "%s had none and has none", uid)
	}
}

func TestAssignInWavesNoWaitAndStatus(t *testing.T) {
	t.Parallel()
	srv := clitest.NewRolloutServer(t, fleet...)
	out, errOut, err := srv.Run(t, NewCmd, "assign", "-l", "env=prod", "--pipeline", "topk-rollup", "--waves", "50,100", "--no-wait")
	require.NoError(t, err)
	id := strings.TrimSpace(out)
	assert.Contains(t, errOut, "follow with: phoenix config rollout status "+id)

	out, _, err = srv.Run(t, NewCmd, "rollout", "status", id)
	require.NoError(t, err)
	assert.Contains(t, out, id+": topk-rollup to env=prod, by otto")
	assert.Contains(t, out, "ROLLOUT  rolling, wave 1 of 2, gate timeout 5m0s")
	assert.Regexp(t, `1\s+50%\s+\+2\s+gated\s+2/2\s+2/2\s+0/2\s+waiting: agent agent-1`, out, "the fleet applied it before the status was read")

	out, _, err = srv.Run(t, NewCmd, "rollout", "status", id, "-o", "json")
	require.NoError(t, err)
	var ro apitypes.AssignmentRollout
	require.NoError(t, json.Unmarshal([]byte(out), &ro))
	assert.Equal(t, id, ro.ID)
	assert.Equal(t, []string{"agent-1", "agent-2"}, []string{ro.Waves[0].Agents[0].InstanceUID, ro.Waves[0].Agents[1].InstanceUID})

	out, _, err = srv.Run(t, NewCmd, "rollout", "list", "--active")
	require.NoError(t, err)
	assert.Contains(t, out, id)
	out, _, err = srv.Run(t, NewCmd, "rollout", "halt", id)
	require.NoError(t, err)
	assert.Contains(t, out, id+" halted: wave 1 of 2 (50%, 2 agent(s)) halted by otto")
	_, _, err = srv.Run(t, NewCmd, "rollout", "status", "ro-missing")
	assert.ErrorContains(t, err, "rollout ro-missing")
}

func TestAssignInWavesFlagErrors(t *testing.T) {
	t.Parallel()
	srv := clitest.NewRolloutServer(t, fleet...)
	for args, want := range map[string]string{
		"--agent agent-1 --pipeline topk-rollup --waves 100":               "assign to a --selector's agents",
		"-l env=prod --pipeline topk-rollup --gate-timeout 1m":             "go with --waves",
		"-l env=prod --pipeline topk-rollup --waves 1,ten,100":             `--waves: "ten" is not a number`,
		"-l env=prod --pipeline topk-rollup --waves 10,5,100":              "waves: 5 after 10",
		"-l env=prod --pipeline topk-rollup --waves 100 --gate-timeout 5s": "gate_timeout: must be between 30s and 1h0m0s",
	} {
		_, _, err := srv.Run(t, NewCmd, append([]string{"assign"}, strings.Fields(args)...)...)
		require.Error(t, err, args)
		assert.Contains(t, err.Error(), want, args)
	}
	list, err := srv.Client().Rollouts(t.Context(), false)
	require.NoError(t, err)
	assert.Empty(t, list)
}
