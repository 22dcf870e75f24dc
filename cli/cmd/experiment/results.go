package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/experimentview"
)

func newCmdResults(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	var format cmdutil.Format
	cmd := &cobra.Command{
		Use:   "results ID",
		Short: "Show an experiment's results: figures per variant, reductions, cost and verdict",
		Long: `Show the results of a completed experiment, or an interim analysis of what a
running one has measured so far (marked as interim).`,
		Example: "  phoenix experiment results exp-3f2a9c1b7d4e\n  phoenix experiment results exp-3f2a9c1b7d4e -o json | jq .derived",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client.Client()
			if err != nil {
				return err
			}
			view, err := c.ExperimentResults(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("results %s: %w", args[0], err)
			}
			r := view.Results
			if format != cmdutil.FormatTable {
				return cmdutil.WriteStructured(ios.Out, format, r)
			}
			if !view.Final {
				fmt.Fprintln(ios.Out, "Interim results: the experiment is still running.")
			}
			return experimentview.PrintResults(ios.Out, r)
		},
	}
	cmdutil.AddFormatFlag(cmd, &format)
	return cmd
}
