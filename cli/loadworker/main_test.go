//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitCoresKeepsEachGoroutineUnderOneCore(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	assert.Equal(t, time.Second, dutyPeriod(0.001))
	assert.Equal(t, 100*time.Millisecond, dutyPeriod(0.5))
}

func TestHoldMemoryMapsAndTouchesTheSizeAsked(t *testing.T) {
	t.Parallel()
	buf, err := holdMemory(1.5)
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Munmap(buf) })
	assert.Len(t, buf, 3<<19)
	assert.Equal(t, byte(1), buf[pageSize])
	none, err := holdMemory(0)
	require.NoError(t, err)
	assert.Empty(t, none)
}

func TestParse(t *testing.T) {
	t.Parallel()
	opts, err := parse([]string{"--parent=42", "--name", "postgres", "-cores=0.25", "--memory-mb=16", "--poll=50ms", "--", "--daemon", "--cores=9"})
	require.NoError(t, err)
	assert.Equal(t, options{parent: 42, name: "postgres", cores: 0.25, memoryMB: 16, poll: 50 * time.Millisecond}, opts)

	opts, err = parse([]string{"--parent=7"})
	require.NoError(t, err)
	assert.Equal(t, time.Second, opts.poll, "default poll")

	_, err = parse([]string{"--help"})
	assert.Equal(t, errHelp, err)
}

func TestParseErrorsNameTheFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--parent is required"},
		{[]string{"--parent=x"}, `--parent: invalid value "x"`},
		{[]string{"--parent=1", "--cores=-1"}, "--cores must be a non-negative number, got -1"},
		{[]string{"--parent=1", "--cores=NaN"}, "--cores must be a non-negative number"},
		{[]string{"--parent=1", "--memory-mb=-2"}, "--memory-mb must be a non-negative number, got -2"},
		{[]string{"--parent=1", "--poll=0s"}, "--poll must be positive"},
		{[]string{"--parent=1", "--loud"}, "unknown flag --loud"},
		{[]string{"--parent=1", "stray"}, `unexpected argument "stray"`},
		{[]string{"--parent"}, "--parent needs a value"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			_, err := parse(tt.args)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestRunExitsAtOnceWithoutItsParent(t *testing.T) {
	t.Parallel()
	// Not this test's parent: as if loadsim died before the worker ran.
	assert.Equal(t, 0, run([]string{"--parent=" + strconv.Itoa(os.Getppid()+1), "--cores=1"}))
	assert.Equal(t, 2, run([]string{"--cores=1"}))
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// workerBinary builds phoenix-loadworker as `make loadworker` does.
func workerBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "loadworker")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "phoenix-loadworker")
		out, err := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", built, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(tb, buildErr)
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		_ = os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

// rollup reads /proc/<pid>/smaps_rollup, in KiB.
func rollup(t *testing.T, pid int) map[string]int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	require.NoError(t, err)
	out := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[2] == "kB" {
			n, _ := strconv.Atoi(f[1])
			out[strings.TrimSuffix(f[0], ":")] = n
		}
	}
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// startWorker starts the real worker binary as loadsim does, with this test
// as its parent, and waits until it has taken its name.
func startWorker(t *testing.T, name string, memoryMB float64) *exec.Cmd {
	t.Helper()
	cmd := &exec.Cmd{
		Path: workerBinary(t),
		Args: []string{name, "--parent=" + strconv.Itoa(os.Getpid()), "--name=" + name, "--cores=0.001",
			"--memory-mb=" + strconv.FormatFloat(memoryMB, 'f', 1, 64), "--", "--daemon"},
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	require.Eventually(t, func() bool { return comm(cmd.Process.Pid) == name }, 10*time.Second, 5*time.Millisecond)
	return cmd
}

// TestWorkerCostsAtMostTwoMiBBeyondItsMemory starts real workers, as loadsim
// runs them (several sharing the binary's pages), and holds each to 2 MiB of
// proportional memory (PSS) beyond what it was told to hold, and 1 MiB of
// anonymous memory.
func TestWorkerCostsAtMostTwoMiBBeyondItsMemory(t *testing.T) {
	const (
		workers  = 4
		memoryMB = 8
	)
	var pids []int
	for i := range workers {
		pids = append(pids, startWorker(t, fmt.Sprintf("lw-mem-%d", i), memoryMB).Process.Pid)
	}
	// The memory is touched before the worker settles into its loop; give
	// each a moment past its name.
	held := memoryMB << 10
	require.Eventually(t, func() bool {
		for _, pid := range pids {
			if rollup(t, pid)["Anonymous"] < held {
				return false
			}
		}
		return true
	}, 10*time.Second, 10*time.Millisecond, "workers never held their memory")
	for _, pid := range pids {
		r := rollup(t, pid)
		t.Logf("worker %d: Rss %d kB, Pss %d kB (anon %d, file %d), Anonymous %d kB; held %d kB",
			pid, r["Rss"], r["Pss"], r["Pss_Anon"], r["Pss_File"], r["Anonymous"], held)
		assert.LessOrEqual(t, r["Pss"]-held, 2<<10, "PSS beyond the held memory, kB")
		assert.LessOrEqual(t, r["Anonymous"]-held, 1<<10, "anonymous memory beyond the held memory, kB")
		assert.GreaterOrEqual(t, r["Anonymous"], held, "the worker holds its memory")
	}
}

// TestWorkerExitsWhenItsParentIsGone starts a worker from a shell that then
// exits without a parent-death signal, so only the worker's own polling can
// notice.
func TestWorkerExitsWhenItsParentIsGone(t *testing.T) {
	bin := workerBinary(t)
	sh := exec.Command("sh", "-c", `"$0" --parent=$$ --name=lw-orphan --poll=20ms >/dev/null 2>&1 & echo $!; read _ || true`, bin)
	stdin, err := sh.StdinPipe()
	require.NoError(t, err)
	stdout, err := sh.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, sh.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
	require.Eventually(t, func() bool { return comm(pid) == "lw-orphan" }, 10*time.Second, 5*time.Millisecond,
		"the worker never ran under its parent")

	require.NoError(t, stdin.Close()) // the shell exits
	require.NoError(t, sh.Wait())
	assert.Eventually(t, func() bool {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return true // gone and reaped
		}
		if !bytes.Contains(stat, []byte("(lw-orphan)")) {
			return true // gone, its PID reused
		}
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
	}, 10*time.Second, 10*time.Millisecond, "the orphaned worker kept running")
}

// BenchmarkWorkerStart measures exec to exit of a worker whose parent is
// already gone: the start cost of every worker loadsim runs.
func BenchmarkWorkerStart(b *testing.B) {
	bin := workerBinary(b)
	for b.Loop() {
		cmd := exec.Command(bin, "--parent=1")
		cmd.Env = []string{"GOMAXPROCS=1", "GOGC=off"}
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}
