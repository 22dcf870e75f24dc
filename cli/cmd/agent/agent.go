// Package agent implements `phoenix agent`: the inventory of managed
// collectors.
package agent // import "github.com/phoenix/platform/cli/cmd/agent"

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// NewCmd returns the agent command group.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	client := &cmdutil.ClientOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Inspect the collectors the server manages; enroll a host as one",
	}
	cmdutil.AddClientFlags(cmd, client)
	cmd.AddCommand(NewCmdList(ios, client, nil), NewCmdSummary(ios, client, nil), NewCmdShow(ios, client, nil), NewCmdDelete(ios, client, nil),
		NewCmdEnroll(ios, client, nil), NewCmdRotate(ios, client, nil), NewCmdRevoke(ios, client, nil))
	return cmd
}

// AgentFilter is which agents a list or summary covers.
type AgentFilter struct {
	Selector []string
	Online   bool
}

func (f *AgentFilter) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVarP(&f.Selector, "selector", "l", nil, "label selector (repeatable)")
	cmd.Flags().BoolVar(&f.Online, "online", false, "only agents with a live connection")
}

// listOptions are the filter as the API client takes it.
func (f *AgentFilter) listOptions() apiclient.ListAgentsOptions {
	lo := apiclient.ListAgentsOptions{Selector: strings.Join(f.Selector, ",")}
	if f.Online {
		lo.Online = &f.Online
	}
	return lo
}

// ListOptions are the inputs of `phoenix agent list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	AgentFilter
	Format cmdutil.Format
}

// NewCmdList returns `phoenix agent list`. runF, when not nil, runs instead
// of runList, so a test can see the options the flags make.
func NewCmdList(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List agents",
		Long: `List the agents (supervisor + collector) the server knows, with their health,
remote-configuration status and whether what they run matches their assignment.

Selectors filter by label: =, != and the whole-value regular expressions =~ and !~.`,
		Example: `  phoenix agent list
  phoenix agent list --selector env=prod --selector 'host.name=~web-.*'
  phoenix agent list --online -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	opts.addFlags(cmd)
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runList lists the agents, every page of them.
func runList(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	agents, err := c.AllAgents(ctx, opts.listOptions())
	if err != nil {
		return fmt.Errorf("listing agents: %w", err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, agents)
	}
	if len(agents) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "no agents")
		return nil
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "INSTANCE UID\tHOST\tVERSION\tONLINE\tHEALTHY\tCONFIG\tPIPELINE\tDRIFT\tLAST SEEN")
	for _, a := range agents {
		pipeline := "-"
		if a.Assignment != nil {
			pipeline = cmdutil.Or(a.Assignment.Pipeline, "(verbatim)")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", a.InstanceUID, cmdutil.Or(a.Description.HostName, "-"),
			cmdutil.Or(a.Description.ServiceVersion, "-"), a.Online, healthy(a), cmdutil.Or(a.RemoteConfig.Status, "-"),
			pipeline, a.Drift.State, ago(a.LastSeen))
	}
	return w.Flush()
}

// ShowOptions are the inputs of `phoenix agent show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	UID    string
	Format cmdutil.Format
}

// NewCmdShow returns `phoenix agent show`. runF, when not nil, runs instead
// of runShow.
func NewCmdShow(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "show INSTANCE-UID",
		Short: "Show one agent: description, health, config status, drift and effective config",
		Example: `  phoenix agent show 0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b
  phoenix agent show 0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.UID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runShow(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runShow shows one agent.
func runShow(ctx context.Context, opts *ShowOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	a, err := c.GetAgent(ctx, opts.UID)
	if err != nil {
		return fmt.Errorf("agent %s: %w", opts.UID, err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, a)
	}
	out := opts.IO.Out
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(w, "%s:\t%s\n", k, v) }
	row("Instance UID", a.InstanceUID)
	row("Host", cmdutil.Or(a.Description.HostName, "-"))
	row("OS", cmdutil.Or(a.Description.OS, "-"))
	row("Service", strings.TrimSpace(a.Description.ServiceName+" "+a.Description.ServiceVersion))
	row("Labels", labels(a.Labels))
	row("Online", fmt.Sprintf("%t (%s, server %s)", a.Online, cmdutil.Or(a.ConnectionType, "-"), cmdutil.Or(a.ServerID, "-")))
	row("First seen", a.FirstSeen.Format(time.RFC3339))
	row("Last seen", a.LastSeen.Format(time.RFC3339)+" ("+ago(a.LastSeen)+")")
	row("Healthy", healthy(a))
	if a.Health != nil && a.Health.LastError != "" {
		row("Last error", a.Health.LastError)
	}
	row("Remote config", strings.TrimSpace(cmdutil.Or(a.RemoteConfig.Status, "-")+" "+short(a.RemoteConfig.Hash)))
	if a.RemoteConfig.ErrorMessage != "" {
		row("Config error", a.RemoteConfig.ErrorMessage)
	}
	if a.Assignment != nil {
		assigned := fmt.Sprintf("%s %s (generation %d)", cmdutil.Or(a.Assignment.Pipeline, "(verbatim)"),
			short(a.Assignment.ConfigHash), a.Assignment.Generation)
		if a.Assignment.Reason != "" {
			assigned += ": " + a.Assignment.Reason
		}
		row("Assigned", assigned)
	}
	drift := string(a.Drift.State)
	if len(a.Drift.Sections) > 0 {
		drift += " (" + strings.Join(a.Drift.Sections, ", ") + ")"
	}
	row("Drift", drift)
	if err := w.Flush(); err != nil {
		return err
	}
	if a.EffectiveConfig != "" {
		fmt.Fprintf(out, "\nEffective configuration (%s):\n%s\n", short(a.EffectiveConfigHash), a.EffectiveConfig)
	}
	return nil
}

func healthy(a apitypes.AgentView) string {
	if a.Health == nil {
		return "-"
	}
	if a.Health.Healthy {
		return "yes"
	}
	return "no"
}

func labels(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return cmdutil.Or(strings.Join(parts, ", "), "-")
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}
