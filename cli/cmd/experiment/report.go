package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// ReportOptions are the inputs of `phoenix experiment report`.
type ReportOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	ID     string
	// HTML is the file the report is written to.
	HTML string
}

// NewCmdReport returns `phoenix experiment report`. runF, when not nil, runs
// instead of runReport.
func NewCmdReport(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "report ID --html FILE",
		Short: "Write an experiment's report as one self-contained HTML file",
		Long: `Write the experiment's report: verdict and reasons, per-variant figures,
reductions, cost per price model, charts of series and cost over time, events
and both configurations, in one HTML file with no external assets.`,
		Example: "  phoenix experiment report exp-3f2a9c1b7d4e --html report.html",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runReport(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.HTML, "html", "", "file to write the HTML report to")
	return cmd
}

// runReport writes the report beside its destination first, and replaces
// the destination only once the whole report is in.
func runReport(ctx context.Context, opts *ReportOptions) error {
	if opts.HTML == "" {
		return fmt.Errorf("--html FILE is required")
	}
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(opts.HTML), ".report-*.html")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file private; a report is written to be shared.
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := c.ExperimentReport(ctx, opts.ID, tmp); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("report %s: %w", opts.ID, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), opts.HTML); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote %s\n", opts.HTML)
	return nil
}
