package loadsim

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// child is a process this test started, read from /proc.
type child struct {
	pid  int
	name string
}

// children lists this process's live children.
func children(t *testing.T) []child {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	var out []child
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		fields := strings.Fields(string(stat[end+1:]))
		if len(fields) < 2 || fields[0] == "Z" {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid == self {
			out = append(out, child{pid: pid, name: string(stat[open+1 : end])})
		}
	}
	return out
}

// TestSupervisorRunsNamedWorkersAndStopsThemAll runs a small custom profile
// with this test binary as the worker, checks the workers carry the simulated
// names, then cancels and checks every worker is gone.
func TestSupervisorRunsNamedWorkersAndStopsThemAll(t *testing.T) {
	o := runOptions(profiles.Custom)
	o.Duration = time.Minute
	o.Params = profiles.Params{Processes: ptr(5), StartsPerSecond: ptr(4.0), CriticalNames: []string{"lsim-db", "lsim-web"}}
	o.Caps.MaxMemoryMB = 16
	plan, err := BuildPlan(*o, time.Now())
	require.NoError(t, err)

	var progress syncWriter
	sup := newSupervisor(plan, testWorker, &progress, 100*time.Millisecond)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sup.run(ctx) }()

	var seen []child
	require.Eventually(t, func() bool {
		seen = children(t)
		names := map[string]bool{}
		for _, c := range seen {
			names[c.name] = true
		}
		return len(seen) >= 5 && names["lsim-db"] && names["lsim-web"]
	}, 30*time.Second, 20*time.Millisecond, "workers with the critical names never ran")
	// Churn replaces workers while we watch.
	replaced := regexp.MustCompile(`, [1-9][0-9]* exited`)
	require.Eventually(t, func() bool { return replaced.MatchString(progress.String()) },
		30*time.Second, 20*time.Millisecond, "no worker was replaced:\n%s", progress.String())

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(stopGrace + reapWait + 5*time.Second):
		t.Fatal("the supervisor did not stop")
	}
	assert.Empty(t, children(t), "workers outlived the supervisor")
	st := sup.stats()
	assert.Equal(t, st.Started, st.Exited, "every started worker was reaped")
	assert.Zero(t, st.Unexpected)
	assert.Zero(t, st.Alive)
	assert.Greater(t, st.Started, 5)
}

func TestSupervisorCountsAWorkerThatDiesAndDoesNotRestartIt(t *testing.T) {
	o := runOptions(profiles.Custom)
	o.Params = profiles.Params{Processes: ptr(2), StartsPerSecond: ptr(0.0), Daemons: ptr(2), CriticalNames: []string{"lsim-a", "lsim-b"}}
	o.Caps.MaxMemoryMB = 4
	plan, err := BuildPlan(*o, time.Now())
	require.NoError(t, err)

	sup := newSupervisor(plan, testWorker, &syncWriter{}, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- sup.run(ctx) }()

	var victim child
	require.Eventually(t, func() bool {
		for _, c := range children(t) {
			if c.name == "lsim-a" {
				victim = c
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, syscall.Kill(victim.pid, syscall.SIGKILL))
	// Give the supervisor steps to (wrongly) restart it.
	require.Eventually(t, func() bool {
		for _, c := range children(t) {
			if c.pid == victim.pid {
				return false
			}
		}
		return true
	}, 10*time.Second, 20*time.Millisecond)
	time.Sleep(5 * stepInterval)
	cancel()
	require.NoError(t, <-done)

	st := sup.stats()
	assert.Equal(t, 1, st.Unexpected)
	assert.Equal(t, 2, st.Started, "the dead worker is not restarted")
}

func TestSupervisorFailsWhenWorkersCannotStart(t *testing.T) {
	plan, err := BuildPlan(*runOptions(profiles.Realistic), time.Now())
	require.NoError(t, err)
	sup := newSupervisor(plan, "/nonexistent/phoenix", &syncWriter{}, time.Hour)
	err = sup.run(t.Context())
	assert.ErrorContains(t, err, "start worker")
}
