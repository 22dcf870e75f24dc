// Package population simulates a host's process population over time:
// processes that start and exit (churn), burn CPU (a few busy, most idle, with
// noise), hold memory and do I/O, with PIDs that wrap and get reused. It is
// deterministic for a seed, and renders scrapes in exactly the host_metrics
// process scraper's shape.
//
// The process_sim receiver emits it; processor tests and benchmarks use it as
// their random populations.
package population // import "github.com/phoenix/platform/receivers/processsim/population"

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// DefaultPIDMax is Linux's default pid_max on 64-bit hosts.
const DefaultPIDMax = 4194304

// Spec describes a population. Zero values take the documented defaults.
type Spec struct {
	// Processes is the steady-state population size; churn keeps it there.
	Processes int
	// Daemons are long-lived processes that never exit; they come first and
	// are part of Processes.
	Daemons int
	// CriticalNames name the first daemons' executables, so critical-process
	// rules have something to find.
	CriticalNames []string
	// StartsPerSecond is the churn: each start replaces an exiting
	// non-daemon process.
	StartsPerSecond float64
	// BusyFraction is the share of processes that are CPU-busy.
	BusyFraction float64
	// BusyCores is the most CPU (in cores) a busy process uses; busy
	// processes are heavy-tailed below it. IdleCores bounds idle ones.
	BusyCores, IdleCores float64
	// CPUNoise is the relative noise on each process's CPU use per step:
	// 0.1 varies it by up to ±10%.
	CPUNoise float64
	// MemoryMB bounds resident memory; sizes are log-uniform in between.
	MinMemoryMB, MaxMemoryMB float64
	// UniqueCommandLines gives every process a distinct command line.
	UniqueCommandLines bool
	// PIDMax is where PIDs wrap (default DefaultPIDMax); small values force
	// PID reuse.
	PIDMax int64
	// CPUModeAttr emits the newer "cpu.mode" attribute instead of "state".
	CPUModeAttr bool
}

// Validate reports the first inconsistency in a spec.
func (s Spec) Validate() error {
	switch {
	case s.Processes < 1:
		return fmt.Errorf("processes must be at least 1, got %d", s.Processes)
	case s.Daemons < 0 || s.Daemons > s.Processes:
		return fmt.Errorf("daemons must be between 0 and processes (%d), got %d", s.Processes, s.Daemons)
	case len(s.CriticalNames) > s.Daemons:
		return fmt.Errorf("critical_names (%d) need as many daemons, got %d", len(s.CriticalNames), s.Daemons)
	case s.StartsPerSecond < 0:
		return fmt.Errorf("starts_per_second must not be negative, got %g", s.StartsPerSecond)
	case s.StartsPerSecond > 0 && s.Daemons == s.Processes:
		return fmt.Errorf("churn needs non-daemon processes: daemons equal processes (%d)", s.Processes)
	case s.BusyFraction < 0 || s.BusyFraction > 1:
		return fmt.Errorf("busy_fraction must be within [0, 1], got %g", s.BusyFraction)
	case s.BusyCores < 0 || s.IdleCores < 0:
		return fmt.Errorf("busy_cores and idle_cores must not be negative")
	case s.CPUNoise < 0 || s.CPUNoise >= 1:
		return fmt.Errorf("cpu_noise must be within [0, 1), got %g", s.CPUNoise)
	case s.MinMemoryMB < 0 || s.MaxMemoryMB < s.MinMemoryMB:
		return fmt.Errorf("memory bounds must satisfy 0 <= min (%g) <= max (%g)", s.MinMemoryMB, s.MaxMemoryMB)
	case s.PIDMax != 0 && s.PIDMax <= int64(s.Processes)+1:
		return fmt.Errorf("pid_max (%d) must exceed processes (%d) + 1", s.PIDMax, s.Processes)
	}
	return nil
}

// Stats counts lifecycle events since the population was created.
type Stats struct {
	Starts, Exits, PIDReuses int
}

// Population is a simulated process table. It is not safe for concurrent use.
type Population struct {
	spec    Spec
	rng     *rand.Rand
	now     time.Time
	procs   []*proc // daemons first, in creation order otherwise
	used    map[int64]bool
	everPID map[int64]bool // for counting reuse; bounded by PIDMax
	nextPID int64
	carry   float64 // fractional starts owed from earlier steps
	serial  int
	stats   Stats
}

type proc struct {
	p      processmetrics.Process
	cores  float64 // mean CPU use
	daemon bool
}

// New creates a population as it stands at start: the processes already
// running, started at various times in the past.
func New(spec Spec, seed uint64, start time.Time) (*Population, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if spec.PIDMax == 0 {
		spec.PIDMax = DefaultPIDMax
	}
	if spec.MaxMemoryMB == 0 {
		spec.MinMemoryMB, spec.MaxMemoryMB = 1, 512
	}
	pop := &Population{
		spec:    spec,
		rng:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now:     start,
		used:    make(map[int64]bool, spec.Processes),
		everPID: make(map[int64]bool, spec.Processes),
		nextPID: 2,
		procs:   make([]*proc, 0, spec.Processes),
	}
	for i := 0; i < spec.Processes; i++ {
		age := time.Duration(pop.rng.Float64() * float64(24*time.Hour))
		pop.spawn(start.Add(-age), i < spec.Daemons)
	}
	pop.stats = Stats{}
	return pop, nil
}

// Now returns the simulated time.
func (pop *Population) Now() time.Time { return pop.now }

// Len returns the number of live processes.
func (pop *Population) Len() int { return len(pop.procs) }

// Stats returns lifecycle counts since creation.
func (pop *Population) Stats() Stats { return pop.stats }

// Each calls fn for every live process, daemons first.
func (pop *Population) Each(fn func(*processmetrics.Process)) {
	for _, pr := range pop.procs {
		fn(&pr.p)
	}
}

// Member is a live process together with the behaviour the simulation gave
// it, for drivers that act it out (phoenix loadsim runs members as real
// processes).
type Member struct {
	// Process is the process as the scraper would report it; do not modify.
	Process *processmetrics.Process
	// Cores is the process's mean CPU use, in cores.
	Cores float64
	// Daemon is true for long-lived processes that never exit.
	Daemon bool
}

// EachMember calls fn for every live process with its behaviour, daemons
// first.
func (pop *Population) EachMember(fn func(Member)) {
	for _, pr := range pop.procs {
		fn(Member{Process: &pr.p, Cores: pr.cores, Daemon: pr.daemon})
	}
}

// Advance moves the simulation to t: counters grow by each process's CPU use
// with noise, and churn replaces exiting processes with new ones started in
// between. Times before the current one are ignored.
func (pop *Population) Advance(t time.Time) {
	dt := t.Sub(pop.now).Seconds()
	if dt <= 0 {
		return
	}
	for _, pr := range pop.procs {
		pop.accumulate(pr, dt)
	}
	pop.carry += pop.spec.StartsPerSecond * dt
	starts := int(pop.carry)
	pop.carry -= float64(starts)
	for i := 0; i < starts; i++ {
		pop.exitOne()
		born := pop.now.Add(time.Duration(pop.rng.Float64() * dt * float64(time.Second)))
		pr := pop.spawn(born, false)
		pop.accumulate(pr, t.Sub(born).Seconds())
	}
	pop.now = t
}

// Scrape advances to t and renders the population as one scrape.
func (pop *Population) Scrape(t time.Time) pmetric.Metrics {
	pop.Advance(t)
	md := pmetric.NewMetrics()
	pop.AppendTo(md.ResourceMetrics(), t)
	return md
}

// AppendTo renders every live process, stamped at t, onto rms.
func (pop *Population) AppendTo(rms pmetric.ResourceMetricsSlice, t time.Time) {
	ts := pcommon.NewTimestampFromTime(t)
	rms.EnsureCapacity(rms.Len() + len(pop.procs))
	for _, pr := range pop.procs {
		pr.p.AppendTo(rms, ts)
	}
}

func (pop *Population) accumulate(pr *proc, dt float64) {
	noise := 1 + pop.spec.CPUNoise*(2*pop.rng.Float64()-1)
	cpu := pr.cores * noise * dt
	pr.p.CPUUser += 0.7 * cpu
	pr.p.CPUSystem += 0.3 * cpu
	pr.p.DiskRead += int64(cpu * 64 * 1024)
	pr.p.DiskWrite += int64(cpu * 16 * 1024)
}

// exitOne ends a random non-daemon process.
func (pop *Population) exitOne() {
	d := pop.spec.Daemons
	if len(pop.procs) <= d {
		return
	}
	i := d + pop.rng.IntN(len(pop.procs)-d)
	delete(pop.used, pop.procs[i].p.PID)
	pop.procs[i] = pop.procs[len(pop.procs)-1]
	pop.procs = pop.procs[:len(pop.procs)-1]
	pop.stats.Exits++
}

func (pop *Population) spawn(born time.Time, daemon bool) *proc {
	pid := pop.allocPID()
	pop.serial++
	idx := len(pop.procs)
	name, args := pop.identity(idx, daemon)
	cmdline := name + args
	if pop.spec.UniqueCommandLines {
		cmdline = fmt.Sprintf("%s --instance=%d", cmdline, pop.serial)
	}
	memMB := pop.spec.MinMemoryMB * math.Pow(pop.spec.MaxMemoryMB/math.Max(pop.spec.MinMemoryMB, 1e-9), pop.rng.Float64())
	if pop.spec.MinMemoryMB == 0 {
		memMB = pop.spec.MaxMemoryMB * pop.rng.Float64()
	}
	rss := int64(memMB * 1024 * 1024)
	pr := &proc{daemon: daemon, cores: pop.cpuShare()}
	pr.p = processmetrics.Process{
		PID: pid, ParentPID: 1,
		ExecutableName: name, ExecutablePath: "/usr/bin/" + name,
		Command: "/usr/bin/" + name, CommandLine: "/usr/bin/" + cmdline,
		Owner: "phoenix", Start: pcommon.NewTimestampFromTime(born.Truncate(10 * time.Millisecond)),
		MemoryRSS: rss, MemoryVirtual: 4 * rss, CPUModeAttr: pop.spec.CPUModeAttr,
	}
	if born.Before(pop.now) {
		// Processes running before the simulation starts arrive with their
		// lifetime of CPU behind them.
		pop.accumulate(pr, pop.now.Sub(born).Seconds())
	}
	pop.procs = append(pop.procs, pr)
	pop.stats.Starts++
	return pr
}

func (pop *Population) identity(idx int, daemon bool) (name, args string) {
	if daemon && idx < len(pop.spec.CriticalNames) {
		return pop.spec.CriticalNames[idx], " --daemon"
	}
	if daemon {
		return fmt.Sprintf("daemon-%d", idx), " --serve"
	}
	return workerNames[pop.rng.IntN(len(workerNames))], fmt.Sprintf(" --task=%d", pop.rng.IntN(1000))
}

// workerNames are ordinary programs a host runs; repeated names are realistic.
var workerNames = []string{"bash", "python3", "node", "java", "sleep", "curl", "grep", "sh", "ruby", "php-fpm", "cron", "tar"}

// cpuShare draws a process's mean CPU use: most idle, a heavy-tailed few busy.
func (pop *Population) cpuShare() float64 {
	u := pop.rng.Float64()
	if pop.rng.Float64() < pop.spec.BusyFraction {
		return pop.spec.BusyCores * (0.05 + 0.95*u*u*u)
	}
	return pop.spec.IdleCores * u
}

// allocPID hands out PIDs in increasing order, wrapping at PIDMax and skipping
// live ones, as the kernel does.
func (pop *Population) allocPID() int64 {
	for {
		pid := pop.nextPID
		pop.nextPID++
		if pop.nextPID >= pop.spec.PIDMax {
			pop.nextPID = 2
		}
		if pop.used[pid] {
			continue
		}
		pop.used[pid] = true
		if pop.everPID[pid] {
			pop.stats.PIDReuses++
		}
		pop.everPID[pid] = true
		return pid
	}
}
