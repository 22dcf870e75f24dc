package loadsim

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWorkerArgsStartWithTheSimulatedName(t *testing.T) {
	t.Parallel()
	args := workerArgs("postgres", "/usr/bin/postgres --daemon --instance=7", 42, 0.25, 16)
	assert.Equal(t, []string{
		"postgres", "--parent=42", "--name=postgres",
		"--cores=0.2500", "--memory-mb=16.0", "--", "--daemon", "--instance=7",
	}, args)
	assert.Equal(t, []string{"sh", "--parent=1", "--name=sh", "--cores=0.0000", "--memory-mb=0.0", "--"},
		workerArgs("sh", "/usr/bin/sh", 1, 0, 0))
}

func TestWorkerEnvSuitsAnIdleProcess(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"GOMAXPROCS=1", "GOGC=off", "GOMEMLIMIT=32MiB"}, workerEnv(0.01))
	assert.Equal(t, "GOMAXPROCS=3", workerEnv(2.5)[0])
}

func TestFindWorker(t *testing.T) {
	t.Run("an override is used as given", func(t *testing.T) {
		got, err := FindWorker(testWorker)
		require.NoError(t, err)
		assert.Equal(t, testWorker, got)
	})
	t.Run("a bad override names the flag", func(t *testing.T) {
		_, err := FindWorker(filepath.Join(t.TempDir(), "nope"))
		assert.ErrorContains(t, err, "--worker ")
		notExec := filepath.Join(t.TempDir(), "plain")
		require.NoError(t, os.WriteFile(notExec, nil, 0o644))
		_, err = FindWorker(notExec)
		assert.ErrorContains(t, err, "permission denied")
	})
	t.Run("./bin", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.Mkdir(filepath.Join(dir, "bin"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "bin", WorkerBinary), nil, 0o755))
		t.Chdir(dir)
		got, err := FindWorker("")
		require.NoError(t, err)
		assert.Equal(t, filepath.Join(dir, "bin", WorkerBinary), got)
	})
	t.Run("missing says how to build it", func(t *testing.T) {
		t.Chdir(t.TempDir())
		_, err := FindWorker("")
		assert.ErrorIs(t, err, ErrNoWorker)
		assert.ErrorContains(t, err, "make build")
		assert.ErrorContains(t, err, "--worker")
	})
}

func TestStartLimiterRampsTheInitialPopulation(t *testing.T) {
	t.Parallel()
	l := newStartLimiter(100, 10*time.Second, 2, t0)
	take := func(at time.Duration) int {
		l.advance(t0.Add(at))
		n := 0
		for l.take() {
			n++
		}
		return n
	}
	assert.Zero(t, take(0), "nothing is due at the start")
	assert.Equal(t, 10+2, take(time.Second), "a tenth of the ramp, and a second of churn at 2 a second")
	assert.Equal(t, 40+2, take(5*time.Second))
	assert.Equal(t, 50+2, take(10*time.Second), "the ramp's last starts; churn's bucket holds one second")
	assert.Zero(t, take(10*time.Second+100*time.Millisecond))
	assert.Equal(t, 1, take(10*time.Second+600*time.Millisecond), "then churn at 2 a second")
}

func TestStartLimiterWithoutARampStartsAtOnce(t *testing.T) {
	t.Parallel()
	l := newStartLimiter(5, 0, 0, t0)
	l.advance(t0)
	for range 5 {
		assert.True(t, l.take())
	}
	assert.False(t, l.take(), "no churn starts with --max-starts-per-second 0")
}

func TestAutoRampScalesWithThePopulation(t *testing.T) {
	t.Parallel()
	assert.Equal(t, time.Second, AutoRamp(6))
	assert.Equal(t, 2800*time.Millisecond, AutoRamp(140))
	assert.Equal(t, 34600*time.Millisecond, AutoRamp(1729))
	assert.Equal(t, time.Minute, AutoRamp(100000))
}
