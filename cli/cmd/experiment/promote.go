package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/experimentview"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// PromoteOptions are the inputs of `phoenix experiment promote`.
type PromoteOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	ID     string
	// Waves is the flag as given ("1,10,50,100"); empty for the server's
	// default.
	Waves       string
	GateTimeout time.Duration
	// Candidate names the candidate to promote; empty for the single form.
	Candidate string
	Format    cmdutil.Format
}

// NewCmdPromote returns `phoenix experiment promote`. runF, when not nil,
// runs instead of runPromote.
func NewCmdPromote(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *PromoteOptions) error) *cobra.Command {
	opts := &PromoteOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "promote ID",
		Short: "Roll a completed experiment's candidate out to its agents, in gated waves",
		Long: `Assign a completed experiment's candidate to its agents for good, in waves.

Each wave is a cumulative share of the experiment's targets (--waves, default
1,10,50,100: 1% of them, then 10%, 50% and all), at least one agent more than
the wave before. The next wave goes out only once every agent of the current
one passed its gate:

  - it reported the candidate's configuration APPLIED and is healthy on it;
  - it sent its own telemetry from a whole minute after applying;
  - it kept its critical processes: at least the experiment's
    min_critical_retention of those it had before the wave (by default all).

An agent that reports FAILED, turns unhealthy or loses critical processes, or a
wave that has not passed within --gate-timeout, halts the rollout: that wave's
agents get their previous assignments back, earlier waves stay promoted, and
the reason is in status, watch and the events. 'phoenix experiment rollback'
then restores every agent. The server carries the rollout on across restarts.

The promote returns once the first wave is assigned; follow the rest with
'phoenix experiment watch ID'. --waves 100 promotes every agent at once (still
gated: a failure rolls them all back).

An experiment that compared several candidates needs --candidate NAME: one of
the names its results rank (the recommended one is the cheapest that met every
criterion); for a single candidate leave it out. See docs/promote.md.`,
		Example: `  phoenix experiment promote exp-3f2a9c1b7d4e
  phoenix experiment promote exp-3f2a9c1b7d4e --waves 5,25,100 --gate-timeout 10m
  phoenix experiment promote exp-3f2a9c1b7d4e --waves 100
  # an experiment with several candidates: name the one to roll out
  phoenix experiment promote exp-3f2a9c1b7d4e --candidate topk-rollup-k10
  phoenix experiment watch exp-3f2a9c1b7d4e`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPromote(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Waves, "waves", "", "cumulative percentages of the targets per wave, increasing, the last 100 (default 1,10,50,100)")
	cmd.Flags().DurationVar(&opts.GateTimeout, "gate-timeout", 0, "how long each wave may take to pass its gate, 10s to 1h (default 5m)")
	cmd.Flags().StringVar(&opts.Candidate, "candidate", "", "the candidate to promote, by name; required when the experiment compared several")
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// ParseWaves reads "1,10,50,100" (cmdutil.ParseWaves).
var ParseWaves = cmdutil.ParseWaves

func runPromote(ctx context.Context, opts *PromoteOptions) error {
	waves, err := ParseWaves(opts.Waves)
	if err != nil {
		return err
	}
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	x, err := c.PromoteExperiment(ctx, opts.ID, apitypes.PromoteRequest{Waves: waves, GateTimeout: apitypes.Duration(opts.GateTimeout),
		Candidate: opts.Candidate})
	if err != nil {
		return fmt.Errorf("promote %s: %w", opts.ID, err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, x)
	}
	fmt.Fprintf(opts.IO.Out, "%s: promote (%s)\n", x.ID, x.Status)
	if x.State.Rollout != nil {
		fmt.Fprintln(opts.IO.Out)
		if err := experimentview.PrintRollout(opts.IO.Out, *x.State.Rollout); err != nil {
			return err
		}
		fmt.Fprintf(opts.IO.Out, "\nFollow it with: phoenix experiment watch %s\n", x.ID)
	}
	return nil
}
