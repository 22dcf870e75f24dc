package loadsim // import "github.com/phoenix/platform/cli/loadsim"

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/phoenix/platform/receivers/processsim/population"
)

const (
	// stepInterval is how often the simulation advances and the workers
	// follow it: fine enough for 30 starts a second.
	stepInterval = 100 * time.Millisecond
	// stopGrace is how long workers get to exit on SIGTERM before SIGKILL.
	stopGrace = 3 * time.Second
	// reapWait bounds the wait for killed workers to be reaped.
	reapWait = 5 * time.Second
)

// simKey identifies a simulated process: simulated PIDs are reused, so the
// start time is part of it.
type simKey struct {
	pid   int64
	start pcommon.Timestamp
}

// worker is one running (or stopping) worker process.
type worker struct {
	cmd      *exec.Cmd
	cores    float64
	memoryMB float64
	stopping bool
	exited   chan struct{} // closed once reaped
}

// Stats count a run's workers.
type Stats struct {
	Started, Exited, Unexpected, Alive int
	// Cores and MemoryMB are the shares assigned to live workers.
	Cores, MemoryMB float64
}

// Settings say how a run is carried out.
type Settings struct {
	// Worker is the phoenix-loadworker binary (see FindWorker).
	Worker string
	// Progress receives a status line every Every.
	Progress io.Writer
	Every    time.Duration
}

// Run acts out the plan until its duration ends or ctx is cancelled, and
// stops every worker before returning, whatever the error. The initial
// population starts over the plan's ramp, daemons first; later starts are
// limited to the caps' starts per second.
func Run(ctx context.Context, plan Plan, settings Settings) (Stats, error) {
	if settings.Every <= 0 {
		return Stats{}, fmt.Errorf("--progress must be positive, got %s", settings.Every)
	}
	if settings.Progress == nil {
		settings.Progress = io.Discard
	}
	sup := newSupervisor(plan, settings.Worker, settings.Progress, settings.Every)
	err := sup.run(ctx)
	return sup.stats(), err
}

// supervisor keeps one worker per live simulated process.
type supervisor struct {
	plan     Plan
	exe      string
	progress io.Writer
	every    time.Duration
	spawner  *spawner
	starts   *startLimiter

	pop     *population.Population
	workers map[simKey]*worker
	failed  map[simKey]bool // exited unexpectedly: not restarted
	exits   chan simKey
	counts  Stats
}

func newSupervisor(plan Plan, exe string, progress io.Writer, every time.Duration) *supervisor {
	return &supervisor{
		plan: plan, exe: exe, progress: progress, every: every,
		workers: make(map[simKey]*worker),
		failed:  make(map[simKey]bool),
		exits:   make(chan simKey, 64),
	}
}

// run acts out the plan until its duration ends or ctx is cancelled, then
// stops every worker. Workers are always stopped, whatever the error.
func (s *supervisor) run(ctx context.Context) error {
	start := time.Now()
	pop, err := population.New(s.plan.Spec, s.plan.Seed, start)
	if err != nil {
		return err
	}
	s.pop = pop
	s.starts = newStartLimiter(s.plan.Processes, s.plan.Ramp, s.plan.Caps.MaxStartsPerSecond, start)
	s.spawner = newSpawner()
	defer s.spawner.close()
	defer s.stopAll()

	deadline := time.NewTimer(s.plan.Duration)
	defer deadline.Stop()
	step := time.NewTicker(stepInterval)
	defer step.Stop()
	report := time.NewTicker(s.every)
	defer report.Stop()

	if err := s.step(start); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-deadline.C:
			return nil
		case now := <-step.C:
			if err := s.step(now); err != nil {
				return err
			}
		case k := <-s.exits:
			s.reaped(k)
		case now := <-report.C:
			s.report(now.Sub(start))
		}
	}
}

// step advances the simulation to now, stops the workers of processes that
// exited and starts workers for processes that began.
func (s *supervisor) step(now time.Time) error {
	s.drainExits()
	s.pop.Advance(now)
	live := make(map[simKey]bool, s.pop.Len())
	var born []population.Member
	s.pop.EachMember(func(m population.Member) {
		k := simKey{m.Process.PID, m.Process.Start}
		live[k] = true
		if s.workers[k] == nil && !s.failed[k] {
			born = append(born, m)
		}
	})
	for k, w := range s.workers {
		if !live[k] && !w.stopping {
			s.stop(w)
		}
	}
	for k := range s.failed {
		if !live[k] {
			delete(s.failed, k)
		}
	}
	// Daemons come first in the population, critical names first among
	// them, so the ramp starts them first.
	s.starts.advance(now)
	for _, m := range born {
		if len(s.workers) >= s.plan.Caps.MaxProcesses {
			break // exiting workers still hold places; next step
		}
		if !s.starts.take() {
			break // the ramp or the starts cap: next step
		}
		if err := s.start(m); err != nil {
			return err
		}
	}
	return nil
}

// start runs a worker for m, its shares scaled by the plan and clamped to
// what the caps have left.
func (s *supervisor) start(m population.Member) error {
	cores := max(0, min(m.Cores*s.plan.CPUScale, s.plan.Caps.MaxCPU-s.counts.Cores))
	memMB := max(0, min(memoryMB(m)*s.plan.MemoryScale, s.plan.Caps.MaxMemoryMB-s.counts.MemoryMB))
	cmd := &exec.Cmd{
		Path:        s.exe,
		Args:        workerArgs(m.Process.ExecutableName, m.Process.CommandLine, os.Getpid(), cores, memMB),
		Env:         workerEnv(cores),
		SysProcAttr: workerProcAttr(),
	}
	if err := s.spawner.start(cmd); err != nil {
		return fmt.Errorf("start worker %s: %w", m.Process.ExecutableName, err)
	}
	k := simKey{m.Process.PID, m.Process.Start}
	w := &worker{cmd: cmd, cores: cores, memoryMB: memMB, exited: make(chan struct{})}
	s.workers[k] = w
	s.counts.Started++
	s.counts.Cores += cores
	s.counts.MemoryMB += memMB
	go func() {
		_ = cmd.Wait()
		close(w.exited)
		s.exits <- k
	}()
	return nil
}

func (s *supervisor) stop(w *worker) {
	w.stopping = true
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
}

// reaped forgets a worker that exited, counting it unexpected unless it was
// asked to stop.
func (s *supervisor) reaped(k simKey) {
	w := s.workers[k]
	if w == nil {
		return
	}
	delete(s.workers, k)
	s.counts.Exited++
	s.counts.Cores -= w.cores
	s.counts.MemoryMB -= w.memoryMB
	if !w.stopping {
		s.counts.Unexpected++
		s.failed[k] = true
	}
}

func (s *supervisor) drainExits() {
	for {
		select {
		case k := <-s.exits:
			s.reaped(k)
		default:
			return
		}
	}
}

// stopAll asks every worker to stop, kills those that have not after the
// grace period, and waits until all are reaped.
func (s *supervisor) stopAll() {
	for _, w := range s.workers {
		if !w.stopping {
			s.stop(w)
		}
	}
	if s.waitAll(stopGrace) {
		return
	}
	for _, w := range s.workers {
		_ = w.cmd.Process.Kill()
	}
	s.waitAll(reapWait)
}

// waitAll reaps workers until none is left or d passes; it reports whether
// none is left.
func (s *supervisor) waitAll(d time.Duration) bool {
	timeout := time.After(d)
	for len(s.workers) > 0 {
		select {
		case k := <-s.exits:
			s.reaped(k)
		case <-timeout:
			return false
		}
	}
	return true
}

func (s *supervisor) stats() Stats {
	st := s.counts
	st.Alive = 0
	for _, w := range s.workers {
		if !w.stopping {
			st.Alive++
		}
	}
	return st
}

func (s *supervisor) report(elapsed time.Duration) {
	st := s.stats()
	fmt.Fprintf(s.progress, "loadsim: %s elapsed, %d alive, %d started, %d exited (%d unexpectedly), %.2f cores and %.0f MiB assigned\n",
		elapsed.Round(time.Second), st.Alive, st.Started, st.Exited, st.Unexpected, st.Cores, st.MemoryMB)
}
