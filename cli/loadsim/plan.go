// Package loadsim is the runtime of `phoenix loadsim run`: it plans a run
// from a profile and the safety caps, then acts the plan out with one real
// process per simulated process, a phoenix-loadworker named and given a
// command line like the simulated process, burning its CPU share and holding
// its memory. The population, and so its churn, comes from
// receivers/processsim/population, the same simulation the process_sim
// receiver emits. cli/cmd/loadsim is its command line.
package loadsim // import "github.com/phoenix/platform/cli/loadsim"

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/phoenix/platform/receivers/processsim/population"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// Caps bound what a run may cost this host.
type Caps struct {
	// MaxProcesses bounds the workers alive at once.
	MaxProcesses int `json:"max_processes" yaml:"max_processes"`
	// MaxCPU bounds the CPU, in cores, the workers are asked to burn.
	MaxCPU float64 `json:"max_cpu" yaml:"max_cpu"`
	// MaxMemoryMB bounds the memory, in MiB, the workers touch.
	MaxMemoryMB float64 `json:"max_memory_mb" yaml:"max_memory_mb"`
	// MaxStartsPerSecond bounds churn: every start costs an exec.
	MaxStartsPerSecond float64 `json:"max_starts_per_second" yaml:"max_starts_per_second"`
}

// Default caps: the largest profile at its full size on a small shared host
// (two cores). A worker costs about 1 MiB beyond the memory it holds and a
// few milliseconds of CPU to start, so 2,000 workers cost about 2 GiB on top
// of --max-memory-mb, and the ramp spreads their starts.
const (
	DefaultMaxProcesses       = 2000
	DefaultMaxMemoryMB        = 2048
	DefaultMaxStartsPerSecond = 30
)

// Ramp defaults: with no --ramp the initial population starts at
// autoRampRate workers a second, the ramp lasting between minRamp and maxRamp.
const (
	autoRampRate = 50
	minRamp      = time.Second
	maxRamp      = time.Minute
)

// Options describe a run: the profile, its parameters and the caps.
type Options struct {
	Profile  string
	Seed     uint64
	Duration time.Duration
	// Params set the custom profile.
	Params profiles.Params
	Caps   Caps
	// Ramp is how long the initial population takes to start; 0 scales it
	// to the population (AutoRamp).
	Ramp time.Duration
}

// Validate checks the options, each error naming its flag.
func (opts *Options) Validate() error {
	switch {
	case opts.Duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", opts.Duration)
	case opts.Ramp < 0:
		return fmt.Errorf("--ramp must not be negative, got %s", opts.Ramp)
	case opts.Caps.MaxProcesses < 1:
		return fmt.Errorf("--max-processes must be at least 1, got %d", opts.Caps.MaxProcesses)
	case !(opts.Caps.MaxCPU > 0):
		return fmt.Errorf("--max-cpu must be positive, got %g", opts.Caps.MaxCPU)
	case !(opts.Caps.MaxMemoryMB >= 0):
		return fmt.Errorf("--max-memory-mb must not be negative, got %g", opts.Caps.MaxMemoryMB)
	case !(opts.Caps.MaxStartsPerSecond >= 0):
		return fmt.Errorf("--max-starts-per-second must not be negative, got %g", opts.Caps.MaxStartsPerSecond)
	}
	return nil
}

// AutoRamp is the ramp for a population of n workers when none is given:
// autoRampRate starts a second, at least minRamp and at most maxRamp.
func AutoRamp(n int) time.Duration {
	d := time.Duration(math.Ceil(float64(n) / autoRampRate * float64(time.Second)))
	return min(max(d, minRamp), maxRamp).Round(100 * time.Millisecond)
}

// Plan is what a run will do, worked out before anything starts.
type Plan struct {
	Profile  string        `json:"profile" yaml:"profile"`
	Seed     uint64        `json:"seed" yaml:"seed"`
	Duration time.Duration `json:"duration" yaml:"duration"`
	// Processes is the steady-state number of workers; ProfileProcesses is
	// the profile's size before the process cap.
	Processes        int      `json:"processes" yaml:"processes"`
	ProfileProcesses int      `json:"profile_processes" yaml:"profile_processes"`
	Daemons          int      `json:"daemons" yaml:"daemons"`
	CriticalNames    []string `json:"critical_names" yaml:"critical_names"`
	StartsPerSecond  float64  `json:"starts_per_second" yaml:"starts_per_second"`
	// Ramp is how long the initial population takes to start, daemons
	// first; RampAuto is true when it was scaled to the population.
	Ramp     time.Duration `json:"ramp" yaml:"ramp"`
	RampAuto bool          `json:"ramp_auto" yaml:"ramp_auto"`
	// CPUScale and MemoryScale shrink every worker's share so the expected
	// totals fit the caps; CPUCores and MemoryMB are those totals.
	CPUScale    float64 `json:"cpu_scale" yaml:"cpu_scale"`
	CPUCores    float64 `json:"cpu_cores" yaml:"cpu_cores"`
	MemoryScale float64 `json:"memory_scale" yaml:"memory_scale"`
	MemoryMB    float64 `json:"memory_mb" yaml:"memory_mb"`
	Caps        Caps    `json:"caps" yaml:"caps"`
	// Notes explain every way the run differs from the profile.
	Notes []string `json:"notes,omitempty" yaml:"notes,omitempty"`

	// Spec is the population the run acts out.
	Spec population.Spec `json:"-" yaml:"-"`
}

// paramFlags translates the custom profile's keys into the flags that set
// them, so errors name what the user typed.
var paramFlags = strings.NewReplacer(
	"cpu.busy_fraction", "--busy-fraction",
	"cpu.busy_cores", "--busy-cores",
	"cpu.idle_cores", "--idle-cores",
	"starts_per_second", "--starts-per-second",
	"critical_names", "--critical",
	"processes", "--processes",
	"daemons", "--daemons",
)

// BuildPlan resolves the profile, applies the caps and works out each
// worker's scaling. It starts nothing; now seeds the population's clock.
func BuildPlan(opts Options, now time.Time) (Plan, error) {
	if err := opts.Validate(); err != nil {
		return Plan{}, err
	}
	p, err := profiles.Get(opts.Profile)
	if err != nil {
		return Plan{}, fmt.Errorf("--profile: %w", err)
	}
	if p, err = p.Apply(opts.Params); err != nil {
		if errors.Is(err, profiles.ErrParamsNeedCustom) {
			return Plan{}, fmt.Errorf("--processes, --daemons, --starts-per-second, --busy-fraction, --busy-cores, --idle-cores and --critical need --profile custom: %w", err)
		}
		return Plan{}, errors.New(paramFlags.Replace(err.Error()))
	}
	resolved, err := p.Resolve(opts.Seed)
	if err != nil {
		return Plan{}, err
	}
	plan := Plan{
		Profile: resolved.Profile, Seed: resolved.Seed, Duration: opts.Duration,
		ProfileProcesses: resolved.Spec.Processes, Caps: opts.Caps,
	}
	spec := plan.capSpec(resolved.Spec)
	if err := spec.Validate(); err != nil {
		return Plan{}, fmt.Errorf("--max-processes %d leaves no valid population: %w", opts.Caps.MaxProcesses, err)
	}
	plan.Spec = spec
	plan.Processes, plan.Daemons, plan.CriticalNames, plan.StartsPerSecond = spec.Processes, spec.Daemons, spec.CriticalNames, spec.StartsPerSecond
	plan.Ramp, plan.RampAuto = opts.Ramp, opts.Ramp == 0
	if plan.RampAuto {
		plan.Ramp = AutoRamp(plan.Processes)
	}
	if plan.Ramp >= plan.Duration {
		plan.note("ramp: --ramp %s is not shorter than --duration %s; the run ends before its whole population has started", plan.Ramp, plan.Duration)
	}

	pop, err := population.New(spec, resolved.Seed, now)
	if err != nil {
		return Plan{}, err
	}
	var cores, memMB float64
	pop.EachMember(func(m population.Member) {
		cores += m.Cores
		memMB += memoryMB(m)
	})
	plan.CPUScale, plan.CPUCores = fitTo(cores, opts.Caps.MaxCPU)
	plan.MemoryScale, plan.MemoryMB = fitTo(memMB, opts.Caps.MaxMemoryMB)
	if plan.CPUScale < 1 {
		plan.note("CPU: the profile expects %.2f cores; every worker's share is scaled by %.3f to fit --max-cpu %.2f", cores, plan.CPUScale, opts.Caps.MaxCPU)
	}
	if plan.MemoryScale < 1 {
		plan.note("memory: the profile expects %.0f MiB; every worker's memory is scaled by %.3f to fit --max-memory-mb %.0f", memMB, plan.MemoryScale, opts.Caps.MaxMemoryMB)
	}
	return plan, nil
}

// capSpec fits the population to the process and churn caps, keeping the
// critical daemons, and notes what it changed.
func (plan *Plan) capSpec(spec population.Spec) population.Spec {
	caps := plan.Caps
	if spec.Processes > caps.MaxProcesses {
		plan.note("processes: the profile wants %d; capped at --max-processes %d (each worker costs about 1 MiB beyond the memory it holds; raise the cap to run the full profile)", spec.Processes, caps.MaxProcesses)
		spec.Processes = caps.MaxProcesses
		maxDaemons := spec.Processes
		if spec.StartsPerSecond > 0 {
			maxDaemons-- // churn needs one process that can exit
		}
		spec.Daemons = max(0, min(spec.Daemons, maxDaemons))
		if len(spec.CriticalNames) > spec.Daemons {
			spec.CriticalNames = spec.CriticalNames[:spec.Daemons]
		}
	}
	if spec.StartsPerSecond > caps.MaxStartsPerSecond {
		plan.note("churn: the profile wants %.2f starts/s; capped at --max-starts-per-second %.2f", spec.StartsPerSecond, caps.MaxStartsPerSecond)
		spec.StartsPerSecond = caps.MaxStartsPerSecond
	}
	return spec
}

func (plan *Plan) note(format string, args ...any) {
	plan.Notes = append(plan.Notes, fmt.Sprintf(format, args...))
}

// fitTo returns the factor that brings total within limit, and the total
// after it.
func fitTo(total, limit float64) (scale, fitted float64) {
	if total <= limit || total == 0 {
		return 1, total
	}
	return limit / total, limit
}

// memoryMB is a member's resident memory in MiB.
func memoryMB(m population.Member) float64 {
	return float64(m.Process.MemoryRSS) / (1 << 20)
}

// Write prints the plan for people.
func (plan *Plan) Write(w io.Writer) error {
	critical := "none"
	if len(plan.CriticalNames) > 0 {
		critical = strings.Join(plan.CriticalNames, ", ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Profile     %s (seed %d)\n", plan.Profile, plan.Seed)
	fmt.Fprintf(&b, "Duration    %s\n", plan.Duration)
	fmt.Fprintf(&b, "Processes   %d workers, %d of them daemons (critical: %s)\n", plan.Processes, plan.Daemons, critical)
	how := "set by --ramp"
	if plan.RampAuto {
		how = fmt.Sprintf("%d a second; --ramp changes it", autoRampRate)
	}
	fmt.Fprintf(&b, "Ramp        the %d workers start over %s (%s), daemons first\n", plan.Processes, plan.Ramp, how)
	fmt.Fprintf(&b, "Churn       %.2f starts/s (%.0f a minute), each replacing an exiting worker (cap %g/s)\n", plan.StartsPerSecond, plan.StartsPerSecond*60, plan.Caps.MaxStartsPerSecond)
	fmt.Fprintf(&b, "CPU         %.2f cores expected (cap %.2f)\n", plan.CPUCores, plan.Caps.MaxCPU)
	fmt.Fprintf(&b, "Memory      %.0f MiB touched (cap %.0f), plus about %.0f MiB of worker runtime (1 MiB each)\n", plan.MemoryMB, plan.Caps.MaxMemoryMB, float64(plan.Processes)*WorkerOverheadMB)
	for _, n := range plan.Notes {
		fmt.Fprintf(&b, "Note        %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
