package agent

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// SummaryOptions are the inputs of `phoenix agent summary`.
type SummaryOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	AgentFilter
	Format cmdutil.Format
}

// NewCmdSummary returns `phoenix agent summary`. runF, when not nil, runs
// instead of runSummary.
func NewCmdSummary(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *SummaryOptions) error) *cobra.Command {
	opts := &SummaryOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Count agents by state: online, health, assignment progress, pipeline",
		Long: `Count the agents the server knows by state, without listing them: how many are
online and healthy, how far they have come with their assignment and which
pipelines they are assigned.

Progress is unassigned, pending (not yet received), applying, retrying (the
apply timed out and the server sends it again), failed or applied. Applied
counts in_sync and drifted together: ` + "`phoenix agent list`" + ` tells them apart.

It is the cheap way to follow a fleet-wide assignment: the server reads no
configuration text to answer it.`,
		Example: `  phoenix agent summary
  phoenix agent summary --selector env=prod
  watch -n 2 phoenix agent summary -l phoenix.loadsim.fleet=loadsim
  phoenix agent summary -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runSummary(cmd.Context(), opts)
		},
	}
	opts.addFlags(cmd)
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// progressOrder is the lifecycle order progress states are shown in.
var progressOrder = []apitypes.DriftState{apitypes.DriftUnassigned, apitypes.DriftPending, apitypes.DriftApplying,
	apitypes.DriftRetrying, apitypes.DriftFailed, apitypes.DriftApplied}

func runSummary(ctx context.Context, opts *SummaryOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	sum, err := c.AgentSummary(ctx, opts.listOptions())
	if err != nil {
		return fmt.Errorf("counting agents: %w", err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, sum)
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Agents:\t%d (%d online)\n", sum.Total, sum.Online)
	fmt.Fprintf(w, "Health:\t%d healthy, %d unhealthy, %d not reported\n", sum.Healthy, sum.Unhealthy,
		sum.Total-sum.Healthy-sum.Unhealthy)
	var progress []string
	for _, s := range progressOrder {
		if n := sum.Progress[s]; n > 0 {
			progress = append(progress, fmt.Sprintf("%s %d", s, n))
		}
	}
	// A state this CLI does not know (a newer server's) is still shown.
	for _, s := range slices.Sorted(maps.Keys(sum.Progress)) {
		if !slices.Contains(progressOrder, s) && sum.Progress[s] > 0 {
			progress = append(progress, fmt.Sprintf("%s %d", s, sum.Progress[s]))
		}
	}
	fmt.Fprintf(w, "Progress:\t%s\n", cmdutil.Or(strings.Join(progress, ", "), "-"))
	var pipelines []string
	for _, p := range slices.Sorted(maps.Keys(sum.Pipelines)) {
		pipelines = append(pipelines, fmt.Sprintf("%s %d", cmdutil.Or(p, "(verbatim)"), sum.Pipelines[p]))
	}
	fmt.Fprintf(w, "Pipelines:\t%s\n", cmdutil.Or(strings.Join(pipelines, ", "), "-"))
	return w.Flush()
}
