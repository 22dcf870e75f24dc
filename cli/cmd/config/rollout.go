package config

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/experimentview"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// defaultEvery is how often a followed rollout is polled.
const defaultEvery = 2 * time.Second

// runAssignWaves starts a progressive assignment and, unless --no-wait,
// follows it to its end.
func runAssignWaves(ctx context.Context, opts *AssignOptions, c *apiclient.Client, req apitypes.AssignRequest) error {
	if len(opts.Selector) == 0 {
		return errors.New("--waves, --gate-timeout and --no-wait assign to a --selector's agents")
	}
	if opts.Waves == "" {
		return errors.New("--gate-timeout and --no-wait go with --waves (for example --waves 1,10,50,100)")
	}
	waves, err := cmdutil.ParseWaves(opts.Waves)
	if err != nil {
		return err
	}
	sel := strings.Join(opts.Selector, ",")
	ro, err := c.AssignProgressively(ctx, apitypes.BulkAssignRequest{AssignRequest: req, Selector: sel,
		WaveOptions: apitypes.WaveOptions{Waves: waves, GateTimeout: apitypes.Duration(opts.GateTimeout)}})
	if err != nil {
		return fmt.Errorf("assigning to %s: %w", sel, err)
	}
	if opts.NoWait {
		if opts.Format != cmdutil.FormatTable {
			return cmdutil.WriteStructured(opts.IO.Out, opts.Format, ro)
		}
		fmt.Fprintf(opts.IO.Out, "%s\n", ro.ID)
		fmt.Fprintf(opts.IO.ErrOut, "rollout %s started: %s; follow with: phoenix config rollout status %s\n", ro.ID, describe(ro), ro.ID)
		return nil
	}
	fmt.Fprintf(opts.IO.ErrOut, "rollout %s started: %s\n", ro.ID, describe(ro))
	every := opts.Every
	if every <= 0 {
		every = defaultEvery
	}
	ro, err = follow(ctx, c, ro, every, opts)
	if err != nil {
		return err
	}
	if opts.Format != cmdutil.FormatTable {
		if err := cmdutil.WriteStructured(opts.IO.Out, opts.Format, ro); err != nil {
			return err
		}
	}
	return ended(ro)
}

func describe(ro apitypes.AssignmentRollout) string {
	n := 0
	for _, w := range ro.Waves {
		n += w.Size
	}
	return fmt.Sprintf("%d agent(s) in %d wave(s), gate timeout %s", n, len(ro.Waves), ro.GateTimeout.D())
}

// follow polls the rollout, printing a line whenever it moves, until it
// stops moving.
func follow(ctx context.Context, c *apiclient.Client, ro apitypes.AssignmentRollout, every time.Duration, opts *AssignOptions) (apitypes.AssignmentRollout, error) {
	last := ""
	for {
		if line := experimentview.RolloutLine(ro.ID, ro.Rollout); line != last && opts.Format == cmdutil.FormatTable {
			fmt.Fprintln(opts.IO.Out, line)
			last = line
		}
		if !ro.State.Active() {
			return ro, nil
		}
		select {
		case <-ctx.Done():
			return ro, ctx.Err()
		case <-time.After(every):
		}
		next, err := c.Rollout(ctx, ro.ID)
		if err != nil {
			return ro, fmt.Errorf("rollout %s: %w", ro.ID, err)
		}
		ro = next
	}
}

// ended is nil for a completed rollout and says why one halted.
func ended(ro apitypes.AssignmentRollout) error {
	if ro.State == apitypes.RolloutCompleted {
		return nil
	}
	return fmt.Errorf("rollout %s %s: %s", ro.ID, ro.State, ro.Reason)
}

// RolloutOptions are the inputs of `phoenix config rollout status|halt`.
type RolloutOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	ID     string
	Active bool
	Format cmdutil.Format
}

// NewCmdRollout returns `phoenix config rollout`: the progressive
// assignments `config assign --waves` starts.
func NewCmdRollout(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rollout",
		Short: "Show or halt progressive assignments (config assign --waves)",
	}
	opts := &RolloutOptions{IO: ios, Client: client}
	status := &cobra.Command{
		Use:   "status ROLLOUT-ID",
		Short: "Show a progressive assignment: its state and each wave's gate",
		Long: `Show a progressive assignment: whether it is rolling, completed or halted (and
why), and per wave its share of the agents, its state and how many of its
agents applied the configuration, are healthy and report own telemetry.
-o json shows every agent of every wave.`,
		Example: `  phoenix config rollout status ro-20261202-101500-1a2b3c4d
  phoenix config rollout status ro-20261202-101500-1a2b3c4d -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			return runRolloutStatus(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(status, &opts.Format)
	list := &cobra.Command{
		Use:     "list",
		Short:   "List progressive assignments, newest first",
		Example: "  phoenix config rollout list --active",
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, _ []string) error { return runRolloutList(cmd.Context(), opts) },
	}
	list.Flags().BoolVar(&opts.Active, "active", false, "only the rollouts still moving")
	cmdutil.AddFormatFlag(list, &opts.Format)
	halt := &cobra.Command{
		Use:   "halt ROLLOUT-ID",
		Short: "Halt a progressive assignment: its wave in progress gets its previous assignments back",
		Long: `Halt a progressive assignment as a failed gate would: the agents of the wave in
progress get their previous assignment back (or none, if they had none);
earlier waves keep the new configuration.`,
		Example: "  phoenix config rollout halt ro-20261202-101500-1a2b3c4d",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			return runRolloutHalt(cmd.Context(), opts)
		},
	}
	cmd.AddCommand(status, list, halt)
	return cmd
}

func runRolloutStatus(ctx context.Context, opts *RolloutOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	ro, err := c.Rollout(ctx, opts.ID)
	if err != nil {
		return fmt.Errorf("rollout %s: %w", opts.ID, err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, ro)
	}
	what := ro.Pipeline
	if what == "" {
		what = "a configuration file"
	}
	fmt.Fprintf(opts.IO.Out, "%s: %s to %s, by %s\n", ro.ID, what, ro.Selector, cmdutil.Or(ro.CreatedBy, "-"))
	return experimentview.PrintRollout(opts.IO.Out, ro.Rollout)
}

func runRolloutList(ctx context.Context, opts *RolloutOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	list, err := c.Rollouts(ctx, opts.Active)
	if err != nil {
		return err
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, list)
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATE\tPIPELINE\tSELECTOR\tSTARTED")
	for _, ro := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", ro.ID, ro.State, cmdutil.Or(ro.Pipeline, "(file)"), ro.Selector, ro.StartedAt.Format(time.RFC3339))
	}
	return w.Flush()
}

func runRolloutHalt(ctx context.Context, opts *RolloutOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	ro, err := c.HaltRollout(ctx, opts.ID)
	if err != nil {
		return fmt.Errorf("halting %s: %w", opts.ID, err)
	}
	fmt.Fprintf(opts.IO.Out, "%s halted: %s\n", ro.ID, ro.Reason)
	return nil
}
