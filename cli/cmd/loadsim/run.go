package loadsim // import "github.com/phoenix/platform/cli/cmd/loadsim"

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/loadsim"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// RunOptions are the inputs of `phoenix loadsim run`.
type RunOptions struct {
	IO *cmdutil.IOStreams
	// Options are the run's profile, parameters, caps and ramp.
	loadsim.Options
	// DryRun prints the plan and starts nothing.
	DryRun bool
	// Progress is how often a status line goes to stderr.
	Progress time.Duration
	// Worker is the phoenix-loadworker binary (default: found by
	// loadsim.FindWorker).
	Worker string
}

// NewCmdRun returns `phoenix loadsim run`. runF, when not nil, runs instead
// of runRun, so a test can see the options the flags make.
func NewCmdRun(ios *cmdutil.IOStreams, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Act out a profile with real processes until the duration ends",
		Long: `Start one real process per simulated process of a profile and keep the
population going for the duration: processes start and exit at the profile's
churn rate, busy ones burn their CPU share, every one holds its memory, and
the critical daemons (postgres, nginx, ...) stay up throughout.

Each worker is a phoenix-loadworker process (built next to phoenix by 'make
build'; --worker overrides) with the simulated process's name (what the
host_metrics scraper reports as process.executable.name) and a command line
beginning with it. A worker costs about 1 MiB beyond the memory it holds and a
few milliseconds of CPU to start.

The initial population starts over a ramp, daemons first: --ramp, or by
default 50 workers a second (1 s to 1 m). Afterwards churn starts at most
--max-starts-per-second workers a second. Caps bound the processes, CPU,
memory and churn; the plan (--dry-run) shows the ramp and any scaling the
caps force. The defaults run every profile at full size on a 2-core host.

Workers never outlive the run: they stop at the end, on Ctrl-C or SIGTERM,
and by themselves if this process dies. Stopping early is an ordinary end:
the summary is printed and the exit status is 130 after Ctrl-C (SIGINT) and
143 after SIGTERM.

The custom profile takes --processes, --daemons, --starts-per-second,
--busy-fraction, --busy-cores, --idle-cores and --critical.`,
		Example: `  phoenix loadsim run --profile realistic --duration 5m
  phoenix loadsim run --profile high-churn --duration 1m --dry-run
  phoenix loadsim run --profile high-cardinality --ramp 2m
  phoenix loadsim run --profile custom --processes 40 --starts-per-second 0.5 --critical postgres,nginx
  phoenix loadsim run --profile high-cardinality --max-memory-mb 4096 --max-cpu 1.5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Profile, "profile", profiles.Realistic, "profile to run (see 'phoenix loadsim profiles')")
	f.Uint64Var(&opts.Seed, "seed", 0, "seed for a reproducible population (default: the profile's)")
	f.DurationVar(&opts.Duration, "duration", 5*time.Minute, "how long to run")
	f.DurationVar(&opts.Ramp, "ramp", 0, "how long the initial population takes to start, daemons first (default: 20ms a worker, 1s to 1m)")
	f.Var(optional[int]{&opts.Params.Processes}, "processes", "custom: number of processes")
	f.Var(optional[int]{&opts.Params.Daemons}, "daemons", "custom: processes that never exit")
	f.Var(optional[float64]{&opts.Params.StartsPerSecond}, "starts-per-second", "custom: churn rate")
	f.Var(optional[float64]{&opts.Params.CPU.BusyFraction}, "busy-fraction", "custom: share of busy processes, 0 to 1")
	f.Var(optional[float64]{&opts.Params.CPU.BusyCores}, "busy-cores", "custom: most CPU a busy process uses, in cores")
	f.Var(optional[float64]{&opts.Params.CPU.IdleCores}, "idle-cores", "custom: most CPU an idle process uses, in cores")
	f.StringSliceVar(&opts.Params.CriticalNames, "critical", nil, "custom: names of the critical daemons")
	f.IntVar(&opts.Caps.MaxProcesses, "max-processes", loadsim.DefaultMaxProcesses, "most workers alive at once (each costs about 1 MiB beyond its memory)")
	f.Float64Var(&opts.Caps.MaxCPU, "max-cpu", float64(runtime.NumCPU())/2, "most CPU the workers burn together, in cores (defaults to half this host's cores)")
	f.Float64Var(&opts.Caps.MaxMemoryMB, "max-memory-mb", loadsim.DefaultMaxMemoryMB, "most memory the workers hold together, in MiB (their ~1 MiB each of runtime comes on top)")
	f.Float64Var(&opts.Caps.MaxStartsPerSecond, "max-starts-per-second", loadsim.DefaultMaxStartsPerSecond, "most churn starts per second, on top of the ramp's")
	f.BoolVar(&opts.DryRun, "dry-run", false, "print the plan and start nothing")
	f.DurationVar(&opts.Progress, "progress", 5*time.Second, "how often to print progress to stderr")
	f.StringVar(&opts.Worker, "worker", "", "the phoenix-loadworker binary (default: next to phoenix, then ./bin)")
	return cmd
}

// runRun plans the run, then, unless it is a dry run, acts it out until the
// duration ends or ctx is cancelled, and stops every worker before returning.
// Cancelled by a signal, it returns a cmdutil.ExitError with the signal's
// conventional status.
func runRun(ctx context.Context, opts *RunOptions) error {
	if opts.Progress <= 0 {
		return fmt.Errorf("--progress must be positive, got %s", opts.Progress)
	}
	plan, err := loadsim.BuildPlan(opts.Options, time.Now())
	if err != nil {
		return err
	}
	if opts.DryRun {
		return plan.Write(opts.IO.Out)
	}
	if runtime.GOOS != "linux" {
		return errors.New("loadsim run needs Linux (process names and parent-death signals); --dry-run works everywhere")
	}
	worker, err := loadsim.FindWorker(opts.Worker)
	if err != nil {
		return err
	}
	if err := plan.Write(opts.IO.ErrOut); err != nil {
		return err
	}

	stats, runErr := loadsim.Run(ctx, plan, loadsim.Settings{Worker: worker, Progress: opts.IO.ErrOut, Every: opts.Progress})
	ended := "the duration ended"
	if ctx.Err() != nil {
		ended = "interrupted"
		switch sig := cmdutil.Signal(ctx); sig {
		case nil:
		case syscall.SIGINT:
			ended = "stopped by SIGINT"
		case syscall.SIGTERM:
			ended = "stopped by SIGTERM"
		default:
			ended = "stopped by " + sig.String()
		}
	}
	fmt.Fprintf(opts.IO.Out, "loadsim %s: %s; %d workers started, %d exited, %d exited unexpectedly; all stopped\n",
		plan.Profile, ended, stats.Started, stats.Exited, stats.Unexpected)
	if runErr != nil {
		return runErr
	}
	return cmdutil.Interrupted(ctx)
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
