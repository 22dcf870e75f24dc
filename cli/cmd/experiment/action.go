package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// ActionOptions are the inputs of `phoenix experiment start|stop|promote|rollback`.
type ActionOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	// Action is the command's name, and the API's name for what it does.
	Action string
	ID     string
	Format cmdutil.Format
}

// NewCmdAction returns the command for one action on an experiment
// (start, stop, promote, rollback). runF, when not nil, runs instead of
// runAction.
func NewCmdAction(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, action, short string,
	runF func(context.Context, *ActionOptions) error,
) *cobra.Command {
	opts := &ActionOptions{IO: ios, Client: client, Action: action}
	cmd := &cobra.Command{
		Use:     action + " ID",
		Short:   short,
		Example: "  phoenix experiment " + action + " exp-3f2a9c1b7d4e",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAction(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runAction asks the server to act on the experiment and prints its status
// afterwards.
func runAction(ctx context.Context, opts *ActionOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	x, err := c.ExperimentAction(ctx, opts.ID, opts.Action)
	if err != nil {
		return fmt.Errorf("%s %s: %w", opts.Action, opts.ID, err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, x)
	}
	fmt.Fprintf(opts.IO.Out, "%s: %s (%s)\n", x.ID, opts.Action, x.Status)
	return nil
}
