// Package config implements `phoenix config`: assigning collector
// configurations to agents.
package config // import "github.com/phoenix/platform/cli/cmd/config"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// NewCmd returns the config command group.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	client := &cmdutil.ClientOptions{}
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Assign collector configurations to agents",
	}
	cmdutil.AddClientFlags(cmd, client)
	cmd.AddCommand(NewCmdAssign(ios, client, nil), NewCmdUnassign(ios, client, nil), NewCmdRollout(ios, client))
	return cmd
}

// AssignOptions are the inputs of `phoenix config assign`.
type AssignOptions struct {
	IO         *cmdutil.IOStreams
	Client     *cmdutil.ClientOptions
	Agent      string
	Selector   []string
	Pipeline   string
	Params     []string
	ParamsFile string
	File       string
	Reason     string
	Format     cmdutil.Format
	// Waves (the flag as given, "1,10,50,100") and GateTimeout assign
	// progressively; NoWait returns once the first wave is out.
	Waves       string
	GateTimeout time.Duration
	NoWait      bool
	// Every is how often a progressive assignment is polled.
	Every time.Duration
}

// NewCmdAssign returns `phoenix config assign`. runF, when not nil, runs
// instead of runAssign, so a test can see the options the flags make.
func NewCmdAssign(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *AssignOptions) error) *cobra.Command {
	opts := &AssignOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "assign (--agent UID | --selector SELECTOR) (--pipeline NAME [--param k=v]... | --file CONFIG)",
		Short: "Assign a pipeline (or a configuration file) to one agent or to every agent a selector matches",
		Long: `Assign a configuration. The server renders the catalog pipeline for each agent,
validates it with the collector distribution's components and stores it; only
then is it pushed (WebSocket agents at once, polling agents on their next
poll). An invalid configuration is refused with every problem and nothing is
sent. With --selector, every matching agent's configuration is validated
before any is stored.

With --waves (and --selector) the assignment is progressive: the matching
agents, in instance UID order, get it in waves of cumulative percentages
(1,10,50,100: 1% first, then up to 10%, ...). The first wave goes out at once;
each next one only once every agent of the previous wave reports it APPLIED,
is healthy, and sends own telemetry from a minute after applying, within
--gate-timeout (default 5m, 30s to 1h). A failed gate (FAILED, unhealthy,
another configuration, timeout) halts the rollout and gives that wave's
agents their previous assignment back (or none, if they had none); earlier
waves keep the new one. The rollout is the server's: it goes on if this
command stops, and after a server restart. The command prints the rollout
ID and follows it until it completes, or exits non-zero if it halts;
--no-wait returns at once (see 'phoenix config rollout status ID').`,
		Example: `  phoenix config assign --agent 0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b --pipeline topk-rollup --param k=20
  phoenix config assign --selector env=staging --pipeline baseline --param destination=none
  phoenix config assign --agent 0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b --file collector.yaml

  # Progressively: 1% of env=prod, then 10%, 50% and all, each wave gated.
  phoenix config assign --selector env=prod --pipeline topk-rollup --param k=20 --waves 1,10,50,100
  # Two waves, 10 minutes for each gate, without waiting for the end.
  phoenix config assign --selector env=prod --pipeline topk-rollup --waves 50,100 --gate-timeout 10m --no-wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAssign(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Agent, "agent", "", "instance UID of one agent")
	f.StringArrayVarP(&opts.Selector, "selector", "l", nil, "label selector for many agents (repeatable)")
	f.StringVar(&opts.Pipeline, "pipeline", "", "catalog pipeline to render")
	f.StringArrayVarP(&opts.Params, "param", "p", nil, "pipeline parameter key=value (repeatable)")
	f.StringVar(&opts.ParamsFile, "params-file", "", "YAML or JSON file of pipeline parameters")
	f.StringVarP(&opts.File, "file", "f", "", "complete collector configuration to assign verbatim")
	f.StringVar(&opts.Reason, "reason", "", "why (recorded with the assignment)")
	f.StringVar(&opts.Waves, "waves", "", "assign progressively: cumulative percentages of the matching agents, increasing, the last 100 (e.g. 1,10,50,100)")
	f.DurationVar(&opts.GateTimeout, "gate-timeout", 0, "with --waves: how long each wave may take to pass its gate, 30s to 1h (default 5m)")
	f.BoolVar(&opts.NoWait, "no-wait", false, "with --waves: print the rollout and return instead of following it")
	f.DurationVar(&opts.Every, "poll", defaultEvery, "with --waves: how often to poll the rollout")
	_ = f.MarkHidden("poll")
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runAssign checks the flags make one target and one configuration, then
// assigns it: to one agent, or to every agent the selector matches.
func runAssign(ctx context.Context, opts *AssignOptions) error {
	if (opts.Agent == "") == (len(opts.Selector) == 0) {
		return errors.New("give exactly one of --agent or --selector")
	}
	if (opts.Pipeline == "") == (opts.File == "") {
		return errors.New("give exactly one of --pipeline or --file")
	}
	req := apitypes.AssignRequest{Pipeline: opts.Pipeline, Reason: opts.Reason}
	var err error
	if req.Parameters, err = cmdutil.ParseParams(opts.Params, opts.ParamsFile); err != nil {
		return err
	}
	if opts.File != "" {
		if len(req.Parameters) > 0 {
			return errors.New("--param and --params-file apply to --pipeline only")
		}
		raw, err := os.ReadFile(opts.File)
		if err != nil {
			return err
		}
		req.Config = string(raw)
	}
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	if opts.Waves != "" || opts.GateTimeout != 0 || opts.NoWait {
		return runAssignWaves(ctx, opts, c, req)
	}
	var results []apitypes.AssignResult
	if opts.Agent != "" {
		asg, err := c.AssignAgent(ctx, opts.Agent, req)
		if err != nil {
			return fmt.Errorf("assigning to %s: %w", opts.Agent, err)
		}
		results = []apitypes.AssignResult{{InstanceUID: opts.Agent, ConfigHash: asg.ConfigHash, Generation: asg.Generation}}
	} else {
		results, err = c.AssignMany(ctx, apitypes.BulkAssignRequest{AssignRequest: req, Selector: strings.Join(opts.Selector, ",")})
		if err != nil {
			return fmt.Errorf("assigning to %s: %w", strings.Join(opts.Selector, ","), err)
		}
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, results)
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "INSTANCE UID\tCONFIG HASH\tGENERATION")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%d\n", r.InstanceUID, r.ConfigHash[:12], r.Generation)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "assigned to %d agent(s); follow with: phoenix agent list\n", len(results))
	return nil
}

// UnassignOptions are the inputs of `phoenix config unassign`.
type UnassignOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	UID    string
}

// NewCmdUnassign returns `phoenix config unassign`. runF, when not nil, runs
// instead of runUnassign.
func NewCmdUnassign(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *UnassignOptions) error) *cobra.Command {
	opts := &UnassignOptions{IO: ios, Client: client}
	return &cobra.Command{
		Use:     "unassign INSTANCE-UID",
		Short:   "Remove an agent's assignment (it keeps running its current configuration)",
		Example: "  phoenix config unassign 0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.UID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runUnassign(cmd.Context(), opts)
		},
	}
}

// runUnassign removes the agent's assignment; the agent is not told, so it
// keeps what it runs.
func runUnassign(ctx context.Context, opts *UnassignOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	if err := c.UnassignAgent(ctx, opts.UID); err != nil {
		if apiclient.IsStatus(err, 404) {
			return fmt.Errorf("agent %s has no assignment", opts.UID)
		}
		return err
	}
	_, err = fmt.Fprintf(opts.IO.Out, "unassigned %s\n", opts.UID)
	return err
}
