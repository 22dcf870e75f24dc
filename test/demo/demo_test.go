// Package demo runs `phoenix demo`, the README's first command, end to end.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/testenv"
)

// TestDemoRunsTheWholeLoop runs the demo as a user would and checks its JSON
// results, its report, and that it leaves no process behind. It runs while
// two CPU-bound processes take this host's cores: a collector starting on a
// busy host is exactly where the supervisor's apply timeout bites, and the
// demo must still pass there.
func TestDemoRunsTheWholeLoop(t *testing.T) {
	testenv.BusyLoops(t, 2)
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	report := filepath.Join(dir, "report.html")
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Binary(t, "phoenix"), "demo", "-o", "json", "--report", report, "--dir", work)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	require.NoError(t, cmd.Run(), "demo failed:\n%s", stderr.String())
	t.Logf("demo took %s", time.Since(start).Round(time.Second))

	var r apitypes.Results
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &r), "stdout must be the results JSON:\n%s", stdout.String())
	base, ok := r.Variant(apitypes.VariantBaseline)
	require.True(t, ok)
	cand, ok := r.Variant(apitypes.VariantCandidate)
	require.True(t, ok)
	assert.Positive(t, base.ActiveSeries)
	assert.Positive(t, cand.ActiveSeries)
	assert.Positive(t, base.CriticalProcesses, "the load's postgres and nginx are critical")
	assert.InDelta(t, 1.0, r.Derived.CriticalRetention, 1e-9)
	assert.NotEmpty(t, r.Costs)
	assert.NotEmpty(t, r.Verdict.Checks)
	t.Logf("series reduction %.1f%%, datapoints %.1f%%, bytes %.1f%%, verdict pass=%t",
		100*r.Derived.SeriesReduction.Value, 100*r.Derived.DatapointsReduction.Value, 100*r.Derived.BytesReduction.Value, r.Verdict.Pass)
	assert.Greater(t, r.Derived.SeriesReduction.Value, 0.5)

	page, err := os.ReadFile(report)
	require.NoError(t, err)
	assert.Contains(t, string(page), "<svg")
	for _, step := range []string{"Starting the control plane", "Running a paired experiment", "Report:"} {
		assert.Contains(t, stderr.String(), step, "progress is shown")
	}
	assert.Empty(t, leftovers(t, work), "the demo must stop everything it started")
}

// leftovers lists live processes whose command line mentions dir, or that
// are loadsim workers (phoenix-loadworker, named like the simulated process).
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var found []string
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmdline := strings.ReplaceAll(string(raw), "\x00", " ")
		stat, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if fields := strings.Fields(string(stat)); len(fields) > 2 && fields[2] == "Z" {
			continue // exited, awaiting its reaper
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if strings.Contains(cmdline, dir) || filepath.Base(exe) == "phoenix-loadworker" {
			found = append(found, e.Name()+": "+cmdline)
		}
	}
	return found
}
