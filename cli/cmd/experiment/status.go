package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/experimentview"
	"github.com/phoenix/platform/opamp-server/apiclient"
)

func newCmdStatus(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	var format cmdutil.Format
	cmd := &cobra.Command{
		Use:     "status ID",
		Short:   "Show an experiment: phase, progress, targets and events",
		Example: "  phoenix experiment status exp-3f2a9c1b7d4e\n  phoenix experiment status exp-3f2a9c1b7d4e -o yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client.Client()
			if err != nil {
				return err
			}
			x, err := c.Experiment(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("experiment %s: %w", args[0], err)
			}
			if format != cmdutil.FormatTable {
				return cmdutil.WriteStructured(ios.Out, format, x)
			}
			return experimentview.PrintStatus(ios.Out, x, time.Now())
		},
	}
	cmdutil.AddFormatFlag(cmd, &format)
	return cmd
}

func newCmdReport(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "report ID --html FILE",
		Short: "Write an experiment's report as one self-contained HTML file",
		Long: `Write the experiment's report: verdict and reasons, per-variant figures,
reductions, cost per price model, charts of series and cost over time, events
and both configurations, in one HTML file with no external assets.`,
		Example: "  phoenix experiment report exp-3f2a9c1b7d4e --html report.html",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return fmt.Errorf("--html FILE is required")
			}
			c, err := client.Client()
			if err != nil {
				return err
			}
			return writeReport(cmd.Context(), c, args[0], file, ios)
		},
	}
	cmd.Flags().StringVar(&file, "html", "", "file to write the HTML report to")
	return cmd
}

func writeReport(ctx context.Context, c *apiclient.Client, id, file string, ios *cmdutil.IOStreams) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".report-*.html")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file private; a report is written to be shared.
	if err := tmp.Chmod(0o644); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := c.ExperimentReport(ctx, id, tmp); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("report %s: %w", id, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Replace the file only once the report is complete.
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	fmt.Fprintf(ios.ErrOut, "wrote %s\n", file)
	return nil
}
