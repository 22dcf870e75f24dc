// Package demo implements `phoenix demo`: the whole Phoenix loop on this
// machine with nothing installed — control plane, a supervised collector,
// simulated load, and a paired experiment of the recommended pipeline
// against what users run today. The command parses flags and prints; the
// demo itself is cli/demo.
package demo // import "github.com/phoenix/platform/cli/cmd/demo"

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/demo"
	"github.com/phoenix/platform/cli/experimentview"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Options are the inputs of `phoenix demo`: what the demo runs, and the
// format its results are printed in.
type Options struct {
	IO *cmdutil.IOStreams
	// Options are the demo's own: durations, profile, candidate, report,
	// directory. runDemo sets where its progress and results go.
	demo.Options
	Format cmdutil.Format
}

// NewCmd returns the demo command. runF, when not nil, runs instead of
// runDemo, so a test can see the options the flags make.
func NewCmd(ios *cmdutil.IOStreams, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: ios}
	if runF == nil {
		runF = runDemo
	}
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
			return runF(cmd.Context(), opts)
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

// runDemo runs the demo, progress on stderr and the results on stdout.
func runDemo(ctx context.Context, opts *Options) error {
	d := opts.Options
	d.Progress = opts.IO.ErrOut
	d.Results = func(r apitypes.Results) error {
		if opts.Format != cmdutil.FormatTable {
			return cmdutil.WriteStructured(opts.IO.Out, opts.Format, r)
		}
		fmt.Fprintln(opts.IO.Out)
		return experimentview.PrintResults(opts.IO.Out, r)
	}
	return demo.Run(ctx, d)
}
