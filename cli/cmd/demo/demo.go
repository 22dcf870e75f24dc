// Package demo implements `phoenix demo`: the whole Phoenix loop on this
// machine with nothing installed — control plane, a supervised collector,
// simulated load, and a paired experiment of the recommended pipeline
// against what users run today.
package demo // import "github.com/phoenix/platform/cli/cmd/demo"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/loadsim"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// Options are the flags of `phoenix demo`.
type Options struct {
	IO          *cmdutil.IOStreams
	Duration    time.Duration
	Warmup      time.Duration
	Profile     string
	Candidate   string
	Report      string
	KeepRunning bool
	Dir         string
	Format      cmdutil.Format
}

// NewCmd returns the demo command.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	opts := &Options{IO: ios}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole Phoenix loop on this machine and show what it saves",
		Long: `Run Phoenix end to end on this machine, with nothing to install:

  1. start the control plane (phoenix server, embedded store, temporary data),
  2. start an OpAMP supervisor managing phoenix-collector on this host and
     assign it the baseline pipeline (every process, as exported today),
     before any load, so the collector starts on a quiet host,
  3. start simulated load (phoenix loadsim, the realistic profile by default,
     with critical daemons such as postgres and nginx), ramped up rather
     than started all at once,
  4. run a paired experiment: baseline vs the recommended topk-rollup, side by
     side from one process scrape, the candidate in shadow,
  5. print the results (series, datapoints, bytes, critical processes, cost
     per price model, verdict), write the HTML report, and clean up.

Progress goes to stderr; the results table (or JSON with -o json) to stdout.
On a busy host the supervisor may report that the collector was not healthy
within its apply timeout; the server then sends the configuration again (a
bounded number of times) and the demo says so. When the demo fails, it prints
the collector's last log lines; --dir keeps every log.`,
		Example: `  phoenix demo
  phoenix demo --duration 5m --profile high-cardinality
  phoenix demo -o json > results.json
  phoenix demo --keep-running   # leave everything up to explore with the CLI`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Duration, "duration", 2*time.Minute, "how long the experiment measures")
	f.DurationVar(&opts.Warmup, "warmup", 30*time.Second, "warm-up before measuring")
	f.StringVar(&opts.Profile, "profile", "realistic", "load profile (phoenix loadsim profiles)")
	f.StringVar(&opts.Candidate, "candidate", "topk-rollup", "candidate pipeline")
	f.StringVar(&opts.Report, "report", "phoenix-demo-report.html", "where to write the HTML report")
	f.BoolVar(&opts.KeepRunning, "keep-running", false, "leave the server, collector and load running until Ctrl-C")
	f.StringVar(&opts.Dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// Run executes the demo.
func Run(ctx context.Context, opts *Options) error {
	if opts.Duration < apitypes.MinDuration {
		return fmt.Errorf("--duration must be at least %s (rates need two whole minutes of samples), got %s", apitypes.MinDuration, opts.Duration)
	}
	if _, err := profiles.Get(opts.Profile); err != nil {
		return fmt.Errorf("--profile: %w", err)
	}
	bins, err := findBinaries()
	if err != nil {
		return err
	}
	dir, cleanup, err := workDir(opts.Dir)
	if err != nil {
		return err
	}
	d := &demo{opts: opts, bins: bins, dir: dir, progress: opts.IO.ErrOut}
	defer func() {
		d.stop()
		if !opts.KeepRunning {
			cleanup()
		}
	}()
	err = d.run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		d.printFailureContext()
	}
	return err
}

// binaries the demo runs.
type binaries struct {
	phoenix, collector, supervisor, worker string
}

// findBinaries looks next to this executable first, then in ./bin.
func findBinaries() (binaries, error) {
	self, err := os.Executable()
	if err != nil {
		return binaries{}, err
	}
	dirs := []string{filepath.Dir(self), "bin"}
	find := func(name string) (string, error) {
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if _, err := os.Stat(p); err == nil {
				return filepath.Abs(p)
			}
		}
		return "", fmt.Errorf("%s not found next to phoenix or in ./bin: run `make build`", name)
	}
	b := binaries{phoenix: self}
	if b.collector, err = find("phoenix-collector"); err != nil {
		return b, err
	}
	if b.supervisor, err = find("opampsupervisor"); err != nil {
		return b, err
	}
	// The load's workers: checked now rather than found missing in
	// loadsim's log minutes later.
	if b.worker, err = find(loadsim.WorkerBinary); err != nil {
		return b, err
	}
	return b, nil
}

func workDir(dir string) (string, func(), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, err
		}
		return dir, func() {}, nil
	}
	tmp, err := os.MkdirTemp("", "phoenix-demo-")
	if err != nil {
		return "", nil, err
	}
	return tmp, func() { _ = os.RemoveAll(tmp) }, nil
}

func step(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "==> "+format+"\n", args...)
}
