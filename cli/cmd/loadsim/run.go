package loadsim // import "github.com/phoenix/platform/cli/cmd/loadsim"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/pipelines/profiles"
)

// RunOptions are the flags of `phoenix loadsim run`.
type RunOptions struct {
	IO       *cmdutil.IOStreams
	Profile  string
	Seed     uint64
	Duration time.Duration
	// Params set the custom profile.
	Params profiles.Params
	Caps   Caps
	// DryRun prints the plan and starts nothing.
	DryRun bool
	// Progress is how often a status line goes to stderr.
	Progress time.Duration
	// Executable is the binary workers run (default: this one).
	Executable string
}

// Default caps: safe on a small shared host. A worker is a whole phoenix
// process (about 10 MiB of private memory and 20-30ms of CPU to start), so
// the process cap fits realistic's 50–200 processes and holds
// high-cardinality's 1,000–2,000 to 200 unless raised.
const (
	defaultMaxProcesses       = 200
	defaultMaxMemoryMB        = 1024
	defaultMaxStartsPerSecond = 30
)

// NewRunCmd returns the run command.
func NewRunCmd(ios *cmdutil.IOStreams) *cobra.Command {
	opts := &RunOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Act out a profile with real processes until the duration ends",
		Long: `Start one real process per simulated process of a profile and keep the
population going for the duration: processes start and exit at the profile's
churn rate, busy ones burn their CPU share, every one holds its memory, and
the critical daemons (postgres, nginx, ...) stay up throughout.

Each worker is this phoenix binary re-executed with the simulated process's
name (what the host_metrics scraper reports as process.executable.name) and
a command line beginning with it. Caps bound the processes, CPU, memory and
churn; the plan (--dry-run) shows any scaling they force. Workers never
outlive the run: they stop at the end, on Ctrl-C or SIGTERM, and by
themselves if this process dies.

The custom profile takes --processes, --daemons, --starts-per-second,
--busy-fraction, --busy-cores, --idle-cores and --critical.`,
		Example: `  phoenix loadsim run --profile realistic --duration 5m
  phoenix loadsim run --profile high-churn --duration 1m --dry-run
  phoenix loadsim run --profile custom --processes 40 --starts-per-second 0.5 --critical postgres,nginx
  phoenix loadsim run --profile high-cardinality --max-processes 1000 --max-memory-mb 2048`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Profile, "profile", profiles.Realistic, "profile to run (see 'phoenix loadsim profiles')")
	f.Uint64Var(&opts.Seed, "seed", 0, "seed for a reproducible population (default: the profile's)")
	f.DurationVar(&opts.Duration, "duration", 5*time.Minute, "how long to run")
	f.Var(optional[int]{&opts.Params.Processes}, "processes", "custom: number of processes")
	f.Var(optional[int]{&opts.Params.Daemons}, "daemons", "custom: processes that never exit")
	f.Var(optional[float64]{&opts.Params.StartsPerSecond}, "starts-per-second", "custom: churn rate")
	f.Var(optional[float64]{&opts.Params.CPU.BusyFraction}, "busy-fraction", "custom: share of busy processes, 0 to 1")
	f.Var(optional[float64]{&opts.Params.CPU.BusyCores}, "busy-cores", "custom: most CPU a busy process uses, in cores")
	f.Var(optional[float64]{&opts.Params.CPU.IdleCores}, "idle-cores", "custom: most CPU an idle process uses, in cores")
	f.StringSliceVar(&opts.Params.CriticalNames, "critical", nil, "custom: names of the critical daemons")
	f.IntVar(&opts.Caps.MaxProcesses, "max-processes", defaultMaxProcesses, "most workers alive at once (each costs about 10 MiB)")
	f.Float64Var(&opts.Caps.MaxCPU, "max-cpu", float64(runtime.NumCPU())/2, "most CPU the workers burn together, in cores (defaults to half this host's cores)")
	f.Float64Var(&opts.Caps.MaxMemoryMB, "max-memory-mb", defaultMaxMemoryMB, "most memory the workers touch together, in MiB")
	f.Float64Var(&opts.Caps.MaxStartsPerSecond, "max-starts-per-second", defaultMaxStartsPerSecond, "most worker starts per second")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the plan and start nothing")
	f.DurationVar(&opts.Progress, "progress", 5*time.Second, "how often to print progress to stderr")
	return cmd
}

func (opts *RunOptions) validate() error {
	switch {
	case opts.Duration <= 0:
		return fmt.Errorf("--duration must be positive, got %s", opts.Duration)
	case opts.Progress <= 0:
		return fmt.Errorf("--progress must be positive, got %s", opts.Progress)
	case opts.Caps.MaxProcesses < 1:
		return fmt.Errorf("--max-processes must be at least 1, got %d", opts.Caps.MaxProcesses)
	case opts.Caps.MaxCPU <= 0:
		return fmt.Errorf("--max-cpu must be positive, got %g", opts.Caps.MaxCPU)
	case opts.Caps.MaxMemoryMB < 0:
		return fmt.Errorf("--max-memory-mb must not be negative, got %g", opts.Caps.MaxMemoryMB)
	case opts.Caps.MaxStartsPerSecond < 0:
		return fmt.Errorf("--max-starts-per-second must not be negative, got %g", opts.Caps.MaxStartsPerSecond)
	}
	return nil
}

// Run plans the run, then, unless it is a dry run, acts it out until the
// duration ends or ctx is cancelled, and stops every worker before returning.
func Run(ctx context.Context, opts *RunOptions) error {
	plan, err := BuildPlan(opts, time.Now())
	if err != nil {
		return err
	}
	if opts.DryRun {
		return plan.Write(opts.IO.Out)
	}
	if runtime.GOOS != "linux" {
		return errors.New("loadsim run needs Linux (process names and parent-death signals); --dry-run works everywhere")
	}
	exe := opts.Executable
	if exe == "" {
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("find the phoenix binary to run as workers: %w", err)
		}
	}
	if err := plan.Write(opts.IO.ErrOut); err != nil {
		return err
	}

	sup := newSupervisor(plan, exe, opts.IO.ErrOut, opts.Progress)
	runErr := sup.run(ctx)
	stats := sup.stats()
	fmt.Fprintf(opts.IO.Out, "loadsim %s: %d workers started, %d exited, %d exited unexpectedly; all stopped\n",
		plan.Profile, stats.Started, stats.Exited, stats.Unexpected)
	if runErr != nil {
		return runErr
	}
	if ctx.Err() != nil {
		return fmt.Errorf("loadsim interrupted: %w", ctx.Err())
	}
	return nil
}

// optional is a flag that sets *dst only when given, so an unset custom
// parameter keeps the profile's default.
type optional[T int | float64] struct{ dst **T }

func (o optional[T]) String() string {
	if o.dst == nil || *o.dst == nil {
		return ""
	}
	return fmt.Sprint(**o.dst)
}

func (o optional[T]) Set(s string) error {
	var v T
	switch p := any(&v).(type) {
	case *int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not an integer: %q", s)
		}
		*p = n
	case *float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", s)
		}
		*p = f
	}
	*o.dst = &v
	return nil
}

func (o optional[T]) Type() string {
	if _, ok := any(T(0)).(int); ok {
		return "int"
	}
	return "float"
}
