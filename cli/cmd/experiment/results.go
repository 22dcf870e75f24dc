package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/experimentview"
)

// ResultsOptions are the inputs of `phoenix experiment results`.
type ResultsOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	ID     string
	Format cmdutil.Format
}

// NewCmdResults returns `phoenix experiment results`. runF, when not nil,
// runs instead of runResults.
func NewCmdResults(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *ResultsOptions) error) *cobra.Command {
	opts := &ResultsOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "results ID",
		Short: "Show an experiment's results: figures per variant, reductions, cost, fidelity and verdict",
		Long: `Show the results of a completed experiment, or an interim analysis of what a
running one has measured so far (marked as interim).

When the collectors export cost_meter's fidelity figures, a fidelity section
says what the candidate loses: its CPU and memory coverage (the share kept in
per-process series rather than rollups), whether attributed + rolled up is
conserved within 1% of the baseline's, blind spots per agent-hour (notable
processes it did not keep) and the worst of them. Split mode shows coverage
only, as an upper bound. See docs/experiment-results.md.

An experiment that compared several candidates first ranks them: those that
meet every criterion, the cheapest first (monthly cost for all targets under
the first price model), then the others; it names the recommended one, the
cheapest that meets every criterion, to promote with
'phoenix experiment promote ID --candidate NAME'. The tables that follow are
the first ranked candidate's against the baseline.`,
		Example: "  phoenix experiment results exp-3f2a9c1b7d4e\n  phoenix experiment results exp-3f2a9c1b7d4e -o json | jq .derived\n" +
			"  phoenix experiment results exp-3f2a9c1b7d4e -o json | jq .fidelity\n" +
			"  phoenix experiment results exp-3f2a9c1b7d4e -o json | jq '.recommended, (.candidates[] | {rank, name, pareto_optimal})'",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runResults(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runResults prints the results, saying so when they are interim.
func runResults(ctx context.Context, opts *ResultsOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	view, err := c.ExperimentResults(ctx, opts.ID)
	if err != nil {
		return fmt.Errorf("results %s: %w", opts.ID, err)
	}
	r := view.Results
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, r)
	}
	if !view.Final {
		fmt.Fprintln(opts.IO.Out, "Interim results: the experiment is still running.")
	}
	return experimentview.PrintResults(opts.IO.Out, r)
}
