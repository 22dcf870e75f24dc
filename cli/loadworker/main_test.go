package loadsim

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
)

func TestSplitCoresKeepsEachGoroutineUnderOneCore(t *testing.T) {
	tests := []struct {
		cores float64
		want  []float64
	}{
		{0, nil},
		{0.25, []float64{0.25}},
		{1, []float64{1}},
		{2.5, []float64{2.5 / 3, 2.5 / 3, 2.5 / 3}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, splitCores(tt.cores), "cores %g", tt.cores)
	}
}

func TestDutyPeriodIsLongForIdleWorkers(t *testing.T) {
	assert.Equal(t, time.Second, dutyPeriod(0.001))
	assert.Equal(t, 100*time.Millisecond, dutyPeriod(0.5))
}

func TestTouchMemoryAllocatesTheSizeAsked(t *testing.T) {
	buf := touchMemory(1.5)
	assert.Len(t, buf, 3<<19)
	assert.Equal(t, byte(1), buf[4096])
	assert.Empty(t, touchMemory(0))
}

func TestWorkerArgsStartWithTheSimulatedName(t *testing.T) {
	args := workerArgs("postgres", "/usr/bin/postgres --daemon --instance=7", 42, 0.25, 16)
	assert.Equal(t, []string{
		"postgres", "loadsim", "worker", "--parent=42", "--name=postgres",
		"--cores=0.2500", "--memory-mb=16.0", "--", "--daemon", "--instance=7",
	}, args)
	assert.Equal(t, "--", workerArgs("sh", "/usr/bin/sh", 1, 0, 0)[7])
}

func TestRunWorkerValidatesItsFlags(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	assert.ErrorContains(t, RunWorker(t.Context(), &WorkerOptions{IO: ios}), "--parent is required")
	assert.ErrorContains(t, RunWorker(t.Context(), &WorkerOptions{IO: ios, Parent: 1, Cores: -1}), "must not be negative")
}

func TestRunWorkerExitsAtOnceWithoutItsParent(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	// Not this test's parent: as if loadsim died before the worker ran.
	assert.NoError(t, RunWorker(t.Context(), &WorkerOptions{IO: ios, Parent: os.Getppid() + 1, Cores: 1}))
}

func TestRunWorkerBurnsUntilCancelled(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- RunWorker(ctx, &WorkerOptions{IO: ios, Parent: os.Getppid(), Cores: 0.1, MemoryMB: 1, ParentPoll: 10 * time.Millisecond})
	}()
	select {
	case err := <-done:
		t.Fatalf("worker returned before cancellation: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	require.NoError(t, <-done)
}

func TestWatchParentNoticesAnotherParent(t *testing.T) {
	done := make(chan struct{})
	go func() {
		watchParent(t.Context(), os.Getppid()+1, time.Millisecond)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("watchParent did not notice the parent was not ours")
	}
}
