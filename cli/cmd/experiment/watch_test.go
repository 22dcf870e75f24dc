package experiment

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestWatchPrintsALinePerPhaseUntilTheEnd(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	e.Agent("a1")
	e.Agent("a2")
	x := e.Create("watched")
	id := x.ID
	nothing := func() {}
	e.Scripted(
		nothing, nothing, // pending, twice
		func() { e.Deploy(id) }, nothing, nothing,
		func() { e.Apply(id) }, nothing,
		func() { e.Advance(time.Minute) }, // warming up
		func() { e.Advance(2 * time.Minute); e.Controller.ReconcileAll(t.Context()) },
		func() { e.Controller.ReconcileAll(t.Context()) },
	)

	out, errOut, err := e.Run(t, NewCmd, "watch", id, "--interval", "1ms")
	require.NoError(t, err)
	assert.Empty(t, errOut)
	live, summary, found := strings.Cut(out, "\n\n")
	require.True(t, found, "the live lines, then the results: %s", out)
	assert.Equal(t, []string{"pending", "deploying", "running", "analyzing", "completed"}, clitest.LiveStatuses(t, id, live),
		"one line per phase, not one per poll")
	lines := strings.Split(live, "\n")
	assert.Contains(t, lines[1], "applied 0/2", "deploying: the targets' summary")
	assert.Contains(t, lines[2], "[", "a progress bar")
	assert.Contains(t, lines[4], "[████████████████████] 100%")
	assert.Contains(t, summary, "Verdict: PASS")
	assert.Contains(t, summary, "Series reduction:      88.5% (95% CI 80.0% to 97.0%)")
	gets := e.Gets()
	require.NotEmpty(t, gets)
	for _, q := range gets {
		assert.Equal(t, "targets=false", q, "a watcher shows no target: it never asks for them")
	}
}

func TestWatchEndsOnFailureAndCancellation(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x := e.Create("no agents")
	_, err := e.Controller.Start(t.Context(), x.ID)
	require.NoError(t, err)
	e.Controller.ReconcileAll(t.Context())
	require.Equal(t, apitypes.ExperimentFailed, e.Get(x.ID).Status)
	out, _, err := e.Run(t, NewCmd, "watch", x.ID, "--interval", "1ms")
	require.Error(t, err, "a failed experiment is a failed watch")
	assert.Equal(t, "experiment "+x.ID+` failed: no online agent matches "env=test"`, err.Error())
	assert.Equal(t, []string{"failed"}, clitest.LiveStatuses(t, x.ID, out))

	y := e.Create("cancelled")
	_, err = e.Controller.Stop(t.Context(), y.ID)
	require.NoError(t, err)
	e.Controller.ReconcileAll(t.Context())
	out, _, err = e.Run(t, NewCmd, "watch", y.ID)
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(out, "experiment "+y.ID+" was cancelled\n"), out)
}

func TestResultsCommand(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x := e.Completed("results")
	out, _, err := e.Run(t, NewCmd, "results", x.ID)
	require.NoError(t, err)
	assert.NotContains(t, out, "Interim")
	lines := strings.Split(out, "\n")
	assert.Equal(t, []string{"VARIANT", "AGENTS", "ACTIVE", "SERIES", "DATAPOINTS/MIN", "BYTES/MIN", "PROCESSES/MIN", "CRITICAL"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{"baseline", "2", "450", "900", "52.7", "KiB", "180", "3.0"}, strings.Fields(lines[1]))
	assert.Equal(t, []string{"candidate", "2", "50", "110", "6.4", "KiB", "180", "3.0"}, strings.Fields(lines[2]))
	for _, want := range []string{
		"Series reduction:      88.5% (95% CI 80.0% to 97.0%)\n",
		"Datapoints reduction:  87.5%\n",
		"Bytes reduction:       87.8%\n",
		"Critical retention:    100.0%\n",
		"\nVerdict: PASS\n",
		"  ✓ series reduction 88.5% ≥ 80% required\n",
		"  ✗ critical retention 90% < 100% required\n",
		"  · collector CPU is compared in split mode only\n",
		"  ! agent a1: counters restarted at 2026-03-02T09:02:00Z (collector restart)\n",
		"\nFidelity of the candidate (2 agents with fidelity figures):\n",
		"  CPU coverage:          93.1%\n",
		"  Memory coverage:       88.0%\n",
		"  Conserved:             NO, 1% or more off: disk\n",
		"  Blind spots:           1.50 per agent-hour (of 12.00 notable processes)\n",
		"  note: network conservation not measured: the baseline counted none\n",
	} {
		assert.Contains(t, out, want)
	}
	assert.NotContains(t, out, "Collector CPU", "paired mode has no CPU comparison")
	var costs []string
	for _, l := range lines {
		if strings.Contains(l, "New Relic") {
			costs = strings.Fields(l)
		}
	}
	assert.Equal(t, []string{"New", "Relic", "$12.50", "$1.50", "$22.00", "88.0%"}, costs)
	assert.Regexp(t, `\n\s+cpu\s+1200\.0 s\s+1200\.0 s\s+0\.00%\s+yes\s*\n\s+disk\s+1\.0 MiB\s+921\.6 KiB\s+10\.00%\s+NO\s*\n`, out)
	assert.Regexp(t, `WORST BLIND SPOTS\s+RESOURCE\s+PEAK\s+HOST\s+AGENT\s*\n\s+java\s+cpu\s+2\.50 cores\s+web-1\s+a1\s*\n\s+"evil\\x1b\[31m"\s+memory\s+3\.0 GiB\s+web-2\s+a2\s*\n`, out,
		"an agent's names are quoted when they hold control characters")
	assert.NotContains(t, out, "\x1b", "no raw escape reaches the terminal")

	out, _, err = e.Run(t, NewCmd, "results", x.ID, "-o", "json")
	require.NoError(t, err)
	var got apitypes.Results
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, clitest.Results(), got)

	_, _, err = e.Run(t, NewCmd, "results", "exp-none")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "results exp-none")
}

func TestInterimResults(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	e.Agent("a1")
	x := e.Create("interim")
	e.Deploy(x.ID)
	e.Apply(x.ID)

	_, _, err := e.Run(t, NewCmd, "results", x.ID)
	require.Error(t, err, "nothing measured during the warm-up")
	assert.Contains(t, err.Error(), "HTTP 409")

	e.Advance(2 * time.Minute)
	out, _, err := e.Run(t, NewCmd, "results", x.ID)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out, "Interim results: the experiment is still running.\n"), out)
	assert.Contains(t, out, "Verdict: PASS")
}

// An apply timeout during deployment is not a failure: watch says the
// configuration is being sent again, once, and the experiment goes on.
func TestWatchShowsApplyRetries(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	e.Agent("a1")
	x := e.Create("slow host")
	id := x.ID
	retry := func() {
		tg := e.Get(id).State.Targets[0]
		a, err := e.Store.GetAgent(t.Context(), tg.InstanceUID)
		require.NoError(t, err)
		a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: tg.ConfigHash, Status: apitypes.ConfigStatusFailed, ErrorMessage: "Config apply timeout exceeded"}
		a.ApplyRetry = &apitypes.ApplyRetry{Hash: tg.ConfigHash, Attempts: 1, Limit: 3, NextAt: time.Date(2026, 12, 1, 12, 0, 15, 0, time.UTC)}
		require.NoError(t, e.Store.UpsertAgent(t.Context(), a))
		e.Controller.ReconcileAll(t.Context())
	}
	retried := func() { // the re-sent configuration applies, which ends the retry
		a, err := e.Store.GetAgent(t.Context(), e.Get(id).State.Targets[0].InstanceUID)
		require.NoError(t, err)
		a.ApplyRetry = nil
		require.NoError(t, e.Store.UpsertAgent(t.Context(), a))
		e.Apply(id)
	}
	nothing := func() {}
	e.Scripted(
		func() { e.Deploy(id) }, retry, nothing, nothing, retried,
		func() { e.Advance(3 * time.Minute); e.Controller.ReconcileAll(t.Context()) },
		func() { e.Controller.ReconcileAll(t.Context()) },
	)

	out, _, err := e.Run(t, NewCmd, "watch", id, "--interval", "1ms")
	require.NoError(t, err, "a retried apply does not fail the experiment")
	assert.Equal(t, 1, strings.Count(out, "was not healthy within the supervisor's apply timeout (1 of 3)"), out)
	assert.Contains(t, out, "its configuration is sent again at 2026-12-01T12:00:15Z")
	assert.Contains(t, out, "Verdict:")
}
