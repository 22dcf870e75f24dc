package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
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
			return printStatus(ios.Out, x, time.Now())
		},
	}
	cmdutil.AddFormatFlag(cmd, &format)
	return cmd
}

func printStatus(out io.Writer, x apitypes.Experiment, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Experiment:\t%s (%s)\n", x.Name, x.ID)
	if x.Spec.Description != "" {
		fmt.Fprintf(w, "Description:\t%s\n", x.Spec.Description)
	}
	fmt.Fprintf(w, "Mode:\t%s, %s vs %s, targets %s\n", x.Spec.Mode, x.Spec.Baseline.Name(), x.Spec.Candidate.Pipeline, x.Spec.Targets.Selector)
	fmt.Fprintf(w, "Status:\t%s\t%s\n", x.Status, bar(x.Progress))
	if !x.State.MeasureFrom.IsZero() {
		fmt.Fprintf(w, "Measuring:\t%s → %s (%s)\n", x.State.MeasureFrom.Local().Format(time.TimeOnly),
			x.State.EndsAt.Local().Format(time.TimeOnly), remaining(x, now))
	}
	if x.State.Verdict != "" {
		fmt.Fprintf(w, "Verdict:\t%s\n", x.State.Verdict)
	}
	if x.State.Error != "" {
		fmt.Fprintf(w, "Error:\t%s\n", x.State.Error)
	}
	if x.State.Promoted || x.State.RolledBack {
		fmt.Fprintf(w, "Rollout:\tpromoted=%t rolled_back=%t\n", x.State.Promoted, x.State.RolledBack)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(x.State.Targets) > 0 {
		fmt.Fprintln(out, "\nTARGETS")
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "INSTANCE UID\tHOST\tVARIANT\tAPPLIED")
		for _, t := range x.State.Targets {
			fmt.Fprintf(w, "%s\t%s\t%s\t%t\n", t.InstanceUID, cmdutil.Or(t.Host, "-"), t.Variant, t.Applied)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if len(x.Events) > 0 {
		fmt.Fprintln(out, "\nEVENTS")
		for _, e := range x.Events {
			arrow := ""
			if e.To != "" {
				arrow = cmdutil.Or(e.From, "∅") + " → " + string(e.To) + ": "
			}
			fmt.Fprintf(out, "  %s  %s%s\n", e.Time.Local().Format(time.TimeOnly), arrow, e.Cause)
		}
	}
	return nil
}

func remaining(x apitypes.Experiment, now time.Time) string {
	switch {
	case x.Status.Terminal():
		return "done"
	case now.Before(x.State.MeasureFrom):
		return "warming up, " + x.State.MeasureFrom.Sub(now).Round(time.Second).String() + " to go"
	case now.Before(x.State.EndsAt):
		return x.State.EndsAt.Sub(now).Round(time.Second).String() + " left"
	}
	return "analysing"
}

func bar(p float64) string {
	const width = 20
	n := int(p*width + 0.5)
	b := make([]rune, width)
	for i := range b {
		b[i] = '·'
		if i < n {
			b[i] = '█'
		}
	}
	return fmt.Sprintf("[%s] %3.0f%%", string(b), 100*p)
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
