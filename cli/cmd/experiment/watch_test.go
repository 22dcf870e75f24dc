package experiment

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestWatchPrintsALinePerPhaseUntilTheEnd(t *testing.T) {
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
	assert.Contains(t, lines[2], "[", "a progress bar")
	assert.Contains(t, lines[4], "[████████████████████] 100%")
	assert.Contains(t, summary, "Verdict: PASS")
	assert.Contains(t, summary, "Series reduction:      88.5% (95% CI 80.0% to 97.0%)")
}

func TestFollowHeartbeatAndInterimFigures(t *testing.T) {
	e := clitest.NewExperimentServer(t)
	e.Agent("a1")
	e.Agent("a2")
	x := e.Create("heartbeat")
	e.Deploy(x.ID)
	e.Apply(x.ID)
	e.Advance(2 * time.Minute) // measuring
	polls := 0
	e.Scripted(func() {}, func() {}, func() {}, func() {}, func() {}, func() {}, func() {
		e.Advance(time.Minute)
		e.Controller.ReconcileAll(t.Context())
		e.Controller.ReconcileAll(t.Context())
	})

	// Each poll takes 6s of the watcher's clock: a heartbeat every third.
	var at time.Time
	clock := func() time.Time { polls++; at = at.Add(6 * time.Second); return at }
	var out bytes.Buffer
	final, err := follow(t.Context(), e.Client(), x.ID, time.Millisecond, &out, false, clock)
	require.NoError(t, err)
	assert.Equal(t, apitypes.ExperimentCompleted, final.Status)
	assert.Equal(t, 7, polls)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	assert.Equal(t, []string{"running", "running", "completed"}, clitest.LiveStatuses(t, x.ID, out.String()),
		"polls 1 and 7 change the phase; poll 4, 18s after poll 1, is a heartbeat; the others print nothing")
	assert.Contains(t, lines[0], "baseline: 450 series  candidate: 50 series  newrelic $12.50→$1.50/host/mo")
}

func TestFollowRedrawsInPlaceOnATerminal(t *testing.T) {
	e := clitest.NewExperimentServer(t)
	x := e.Completed("redrawn")
	var out bytes.Buffer
	_, err := Follow(t.Context(), e.Client(), x.ID, time.Millisecond, &out, true)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(out.String(), "\r\033[K"+x.ID+" completed"), "%q", out.String())
	assert.True(t, strings.HasSuffix(out.String(), "100%\n"), "the last view stays: %q", out.String())

	_, err = Follow(t.Context(), e.Client(), "exp-none", time.Millisecond, &out, true)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "experiment exp-none")
}

func TestFollowStopsWithItsContext(t *testing.T) {
	e := clitest.NewExperimentServer(t)
	x := e.Create("forever")
	ctx, cancel := context.WithCancel(t.Context())
	e.Scripted(cancel) // Ctrl-C during the first poll
	_, err := Follow(ctx, e.Client(), x.ID, time.Hour, &bytes.Buffer{}, false)
	require.ErrorIs(t, err, context.Canceled, "no waiting out the hour")
}

func TestWatchEndsOnFailureAndCancellation(t *testing.T) {
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

func TestSummarise(t *testing.T) {
	e := clitest.NewExperimentServer(t)
	x := e.Completed("summary")
	var out bytes.Buffer
	require.NoError(t, Summarise(t.Context(), e.Client(), x, &out))
	var want bytes.Buffer
	require.NoError(t, PrintResults(&want, clitest.Results()))
	assert.Equal(t, "\n"+want.String(), out.String())

	out.Reset()
	err := Summarise(t.Context(), e.Client(), apitypes.Experiment{ID: "exp-x", Status: apitypes.ExperimentFailed,
		State: apitypes.ExperimentState{Error: "agent a1 could not apply its configuration"}}, &out)
	assert.EqualError(t, err, "experiment exp-x failed: agent a1 could not apply its configuration")
	require.NoError(t, Summarise(t.Context(), e.Client(), apitypes.Experiment{ID: "exp-y", Status: apitypes.ExperimentCancelled}, &out))
	assert.Equal(t, "experiment exp-y was cancelled\n", out.String())
	err = Summarise(t.Context(), e.Client(), apitypes.Experiment{ID: "exp-none", Status: apitypes.ExperimentCompleted}, &out)
	assert.Error(t, err, "the results must be there")
}

func TestResultsCommand(t *testing.T) {
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

func TestPrintResultsOfASplitExperiment(t *testing.T) {
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
	for in, want := range map[float64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB",
	} {
		assert.Equal(t, want, bytesHuman(in), "%g", in)
	}
}

func TestBar(t *testing.T) {
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

func TestLiveLine(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	x := apitypes.Experiment{ID: "exp-1", Status: apitypes.ExperimentRunning, Progress: 0.25,
		State: apitypes.ExperimentState{MeasureFrom: start, EndsAt: start.Add(4 * time.Minute)}}
	r := clitest.Results()
	assert.Equal(t, "exp-1 running   [█████···············]  25%  3m0s left", liveLine(x, nil, start.Add(time.Minute)))
	assert.Equal(t, "exp-1 running   [█████···············]  25%  3m0s left  baseline: 450 series  candidate: 50 series  newrelic $12.50→$1.50/host/mo",
		liveLine(x, &r, start.Add(time.Minute)))
	noCosts := r
	noCosts.Costs = nil
	assert.Equal(t, "exp-1 running   [█████···············]  25%  3m0s left  baseline: 450 series  candidate: 50 series",
		liveLine(x, &noCosts, start.Add(time.Minute)))
	x.Status, x.Progress = apitypes.ExperimentDeploying, 0
	assert.Equal(t, "exp-1 deploying [····················]   0%", liveLine(x, nil, start))
}

func TestIsTerminal(t *testing.T) {
	assert.False(t, isTerminal(&bytes.Buffer{}))
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, isTerminal(f), "a regular file")
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	assert.True(t, isTerminal(devNull), "a character device")
}

// An apply timeout during deployment is not a failure: watch says the
// configuration is being sent again, once, and the experiment goes on.
func TestWatchShowsApplyRetries(t *testing.T) {
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
