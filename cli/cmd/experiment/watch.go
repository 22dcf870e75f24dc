package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/experimentview"
)

// WatchOptions are the inputs of `phoenix experiment watch`.
type WatchOptions struct {
	IO       *cmdutil.IOStreams
	Client   *cmdutil.ClientOptions
	ID       string
	Interval time.Duration
}

// NewCmdWatch returns `phoenix experiment watch`. runF, when not nil, runs
// instead of runWatch.
func NewCmdWatch(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "watch ID",
		Short: "Follow an experiment live until it ends: phase, progress, per-variant series and cost",
		Long: `Follow an experiment until it finishes: its phase and progress, and once it
measures, the interim series and cost per variant. On a terminal the view is
redrawn in place; otherwise one status line is printed per change. Ends with
the final results; the exit status is 1 when the experiment failed.`,
		Example: "  phoenix experiment watch exp-3f2a9c1b7d4e",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runWatch(cmd.Context(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "refresh interval")
	return cmd
}

// runWatch follows the experiment until it is terminal, redrawing in place
// on a terminal, then prints how it ended.
func runWatch(ctx context.Context, opts *WatchOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	x, err := experimentview.Follow(ctx, c, opts.ID, opts.Interval, opts.IO.Out, cmdutil.IsTerminal(opts.IO.Out))
	if err != nil {
		return err
	}
	return experimentview.Summarise(ctx, c, x, opts.IO.Out)
}
