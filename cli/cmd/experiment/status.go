package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/experimentview"
)

// StatusOptions are the inputs of `phoenix experiment status`.
type StatusOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	ID     string
	Format cmdutil.Format
}

// NewCmdStatus returns `phoenix experiment status`. runF, when not nil, runs
// instead of runStatus.
func NewCmdStatus(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *StatusOptions) error) *cobra.Command {
	opts := &StatusOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:     "status ID",
		Short:   "Show an experiment: phase, progress, targets and events",
		Example: "  phoenix experiment status exp-3f2a9c1b7d4e\n  phoenix experiment status exp-3f2a9c1b7d4e -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runStatus(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runStatus prints the experiment as it is now.
func runStatus(ctx context.Context, opts *StatusOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	x, err := c.Experiment(ctx, opts.ID)
	if err != nil {
		return fmt.Errorf("experiment %s: %w", opts.ID, err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, x)
	}
	return experimentview.PrintStatus(opts.IO.Out, x, time.Now())
}
