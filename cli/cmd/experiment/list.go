package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// ListOptions are the inputs of `phoenix experiment list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	// Status keeps only experiments with these statuses; none keeps all.
	Status []apitypes.ExperimentStatus
	Format cmdutil.Format
}

// NewCmdList returns `phoenix experiment list`. runF, when not nil, runs
// instead of runList.
func NewCmdList(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List experiments",
		Example: "  phoenix experiment list\n  phoenix experiment list --status running,deploying -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	cmd.Flags().Var((*statusList)(&opts.Status), "status", "only experiments with these statuses, comma-separated ("+statusNames()+")")
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runList prints the experiments, newest last.
func runList(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	xs, err := c.Experiments(ctx, opts.Status...)
	if err != nil {
		return fmt.Errorf("listing experiments: %w", err)
	}
	if opts.Format != cmdutil.FormatTable {
		if xs == nil {
			xs = []apitypes.Experiment{} // [], not null, for jq and friends
		}
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, xs)
	}
	if len(xs) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "no experiments")
		return nil
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tMODE\tSTATUS\tPROGRESS\tTARGETS\tVERDICT\tCREATED")
	for _, x := range xs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%3.0f%%\t%d\t%s\t%s\n", x.ID, x.Name, x.Spec.Mode, x.Status, 100*x.Progress,
			targetCount(x), cmdutil.Or(x.State.Verdict, "-"), x.CreatedAt.Local().Format(time.DateTime))
	}
	return w.Flush()
}

// targetCount is how many targets x has: its summary's count, which a
// server before summaries did not send.
func targetCount(x apitypes.Experiment) int {
	if x.State.TargetSummary != nil {
		return x.State.TargetSummary.Total
	}
	return len(x.State.Targets)
}

// statusList is the --status flag: known lifecycle statuses only.
type statusList []apitypes.ExperimentStatus

func (l *statusList) String() string {
	names := make([]string, len(*l))
	for i, s := range *l {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}

func (l *statusList) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		s := apitypes.ExperimentStatus(strings.TrimSpace(name))
		if !slices.Contains(apitypes.ExperimentStatuses(), s) {
			return fmt.Errorf("unknown status %q (valid: %s)", s, statusNames())
		}
		*l = append(*l, s)
	}
	return nil
}

func (l *statusList) Type() string { return "statuses" }

func statusNames() string {
	var names []string
	for _, s := range apitypes.ExperimentStatuses() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}
