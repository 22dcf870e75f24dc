package loadsim // import "github.com/phoenix/platform/cli/cmd/loadsim"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// WorkerOptions are the flags of the hidden `phoenix loadsim worker`, the
// process `loadsim run` starts for each simulated process.
type WorkerOptions struct {
	IO *cmdutil.IOStreams
	// Parent is the loadsim process's PID; the worker exits when its parent
	// is no longer that process.
	Parent int
	// Name becomes the process name (/proc/<pid>/comm), which the
	// host_metrics scraper reports as process.executable.name.
	Name string
	// Cores is the CPU share to burn, in cores.
	Cores float64
	// MemoryMB is how much memory to allocate and keep resident.
	MemoryMB float64
	// ParentPoll is how often the parent is checked.
	ParentPoll time.Duration
}

// workerCmd is the subcommand name; run builds workers' argv with it.
const workerCmd = "worker"

// NewWorkerCmd returns the hidden worker command.
func NewWorkerCmd(ios *cmdutil.IOStreams) *cobra.Command {
	opts := &WorkerOptions{IO: ios}
	cmd := &cobra.Command{
		Use:    workerCmd + " [flags] -- [display arguments]",
		Short:  "Act out one simulated process (started by loadsim run)",
		Hidden: true,
		// Arguments after -- only make the command line look like the
		// simulated process's.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return RunWorker(cmd.Context(), opts)
		},
	}
	cmd.Flags().IntVar(&opts.Parent, "parent", 0, "PID of the loadsim process; exit when it is gone")
	cmd.Flags().StringVar(&opts.Name, "name", "", "process name to take")
	cmd.Flags().Float64Var(&opts.Cores, "cores", 0, "CPU share to burn, in cores")
	cmd.Flags().Float64Var(&opts.MemoryMB, "memory-mb", 0, "memory to allocate and touch, in MiB")
	cmd.Flags().DurationVar(&opts.ParentPoll, "parent-poll", 200*time.Millisecond, "how often to check the parent is alive")
	return cmd
}

// RunWorker burns CPU and holds memory until ctx ends or the parent is gone.
func RunWorker(ctx context.Context, opts *WorkerOptions) error {
	if opts.Parent <= 0 {
		return errors.New("--parent is required")
	}
	if opts.Cores < 0 || opts.MemoryMB < 0 {
		return errors.New("--cores and --memory-mb must not be negative")
	}
	if os.Getppid() != opts.Parent {
		return nil // the parent died before we got going
	}
	if opts.Name != "" {
		if err := setProcessName(opts.Name); err != nil {
			return fmt.Errorf("set process name: %w", err)
		}
	}
	memory := touchMemory(opts.MemoryMB)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, share := range splitCores(opts.Cores) {
		go burn(ctx, share)
	}
	watchParent(ctx, opts.Parent, opts.ParentPoll)
	runtime.KeepAlive(memory)
	return nil
}

// setProcessName sets the name the kernel reports for this process. The
// process's name is its main thread's comm; prctl(PR_SET_NAME) would only
// rename whichever thread the Go scheduler runs us on, so write the main
// thread's comm file, which any thread of the process may do.
func setProcessName(name string) error {
	pid := strconv.Itoa(os.Getpid())
	return os.WriteFile("/proc/self/task/"+pid+"/comm", []byte(name), 0)
}

// touchMemory allocates mb MiB and writes every page so it is resident.
func touchMemory(mb float64) []byte {
	const page = 4096
	buf := make([]byte, int(mb*(1<<20)))
	for i := 0; i < len(buf); i += page {
		buf[i] = 1
	}
	return buf
}

// splitCores spreads a CPU share over goroutines of at most one core each.
func splitCores(cores float64) []float64 {
	if cores <= 0 {
		return nil
	}
	n := int(math.Ceil(cores))
	shares := make([]float64, n)
	for i := range shares {
		shares[i] = cores / float64(n)
	}
	return shares
}

// dutyPeriod is how often a busy worker alternates burning and sleeping;
// near-idle workers use a longer one so a thousand of them stay quiet.
func dutyPeriod(share float64) time.Duration {
	if share < 0.05 {
		return time.Second
	}
	return 100 * time.Millisecond
}

// burn spins for share of each period and sleeps the rest, so the process
// uses share of a core on average.
func burn(ctx context.Context, share float64) {
	period := dutyPeriod(share)
	busy := time.Duration(share * float64(period))
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		spin(busy)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// spinSink keeps the compiler from removing the busy loop.
var spinSink atomic.Uint64

func spin(d time.Duration) {
	var x uint64
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		for i := 0; i < 1000; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
	}
	spinSink.Add(x)
}

// watchParent returns when ctx ends or the parent is no longer ours: the
// kernel's parent-death signal (Pdeathsig) covers most deaths, this covers
// the rest.
func watchParent(ctx context.Context, parent int, poll time.Duration) {
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if os.Getppid() != parent {
				return
			}
		}
	}
}
