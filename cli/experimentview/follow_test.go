package experimentview

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestFollowHeartbeatAndInterimFigures(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x := e.Create("forever")
	ctx, cancel := context.WithCancel(t.Context())
	e.Scripted(cancel) // Ctrl-C during the first poll
	_, err := Follow(ctx, e.Client(), x.ID, time.Hour, &bytes.Buffer{}, false)
	require.ErrorIs(t, err, context.Canceled, "no waiting out the hour")
}

func TestSummarise(t *testing.T) {
	t.Parallel()
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

func TestLiveLine(t *testing.T) {
	t.Parallel()
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
	x.State.TargetSummary = &apitypes.TargetSummary{Total: 10000, Applied: 7311}
	assert.Equal(t, "exp-1 deploying [····················]   0%  applied 7311/10000", liveLine(x, nil, start))
}
