package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/experimentview"
	"github.com/phoenix/platform/opamp-server/apiclient"
)

// StatusOptions are the inputs of `phoenix experiment status`.
type StatusOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	ID     string
	Format cmdutil.Format
	// Targets lists each target; without it only their summary is shown,
	// and the server leaves the targets out of its answer.
	Targets bool
}

// NewCmdStatus returns `phoenix experiment status`. runF, when not nil, runs
// instead of runStatus.
func NewCmdStatus(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show an experiment: phase, progress, targets and events",
		Example: "  phoenix experiment status exp-3f2a9c1b7d4e\n  phoenix experiment status exp-3f2a9c1b7d4e -o yaml\n" +
			"  phoenix experiment status exp-3f2a9c1b7d4e --targets=false   # a large fleet: only the targets' summary",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	cmd.Flags().BoolVar(&opts.Targets, "targets", true, "list each target (false: only how many applied, by variant)")
	return cmd
}

// runStatus prints the experiment as it is now.
func runStatus(ctx context.Context, opts *StatusOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	x, err := c.ExperimentWith(ctx, opts.ID, apiclient.ExperimentOptions{WithoutTargets: !opts.Targets})
	if err != nil {
		return fmt.Errorf("experiment %s: %w", opts.ID, err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, x)
	}
	return experimentview.PrintStatus(opts.IO.Out, x, time.Now())
}
