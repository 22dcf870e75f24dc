// Package pipeline implements `phoenix pipeline`: the pipelines catalog as the
// server holds it.
package pipeline // import "github.com/phoenix/platform/cli/cmd/pipeline"

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// NewCmd returns the pipeline command group.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	client := &cmdutil.ClientOptions{}
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Browse, render and validate catalog pipelines",
	}
	cmdutil.AddClientFlags(cmd, client)
	cmd.AddCommand(NewCmdList(ios, client, nil), NewCmdShow(ios, client, nil), NewCmdRender(ios, client, nil),
		NewCmdValidate(ios, client, nil))
	return cmd
}

// ListOptions are the inputs of `phoenix pipeline list`.
type ListOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	Format cmdutil.Format
}

// NewCmdList returns `phoenix pipeline list`. runF, when not nil, runs
// instead of runList, so a test can see the options the flags make.
func NewCmdList(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List catalog pipelines",
		Example: "  phoenix pipeline list\n  phoenix pipeline list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runList prints the catalog: a table of names, versions and descriptions,
// or every entry whole with -o json|yaml.
func runList(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	raw, err := c.Pipelines(ctx)
	if err != nil {
		return fmt.Errorf("listing pipelines: %w", err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, raw)
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tVERSION\tRECOMMENDED\tDESCRIPTION")
	for _, s := range raw {
		rec := ""
		if s.Recommended {
			rec = "yes"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Name, s.Version, rec, s.Description)
	}
	return w.Flush()
}

// ShowOptions are the inputs of `phoenix pipeline show`.
type ShowOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	Name   string
	// Format is YAML unless JSON is asked for: a pipeline has no table.
	Format cmdutil.Format
}

// NewCmdShow returns `phoenix pipeline show`. runF, when not nil, runs
// instead of runShow.
func NewCmdShow(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: ios, Client: client, Format: cmdutil.FormatYAML}
	cmd := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a pipeline and its typed parameters",
		Example: "  phoenix pipeline show topk-rollup\n  phoenix pipeline show topk-rollup -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runShow(cmd.Context(), opts)
		},
	}
	cmd.Flags().VarP(&opts.Format, "output", "o", "output format: yaml (default) or json")
	return cmd
}

// runShow prints the pipeline's catalog entry.
func runShow(ctx context.Context, opts *ShowOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	doc, err := c.Pipeline(ctx, opts.Name)
	if err != nil {
		return fmt.Errorf("pipeline %s: %w", opts.Name, err)
	}
	format := opts.Format
	if format == cmdutil.FormatTable {
		format = cmdutil.FormatYAML
	}
	return cmdutil.WriteStructured(opts.IO.Out, format, doc)
}

// RenderOptions are the inputs of `phoenix pipeline render`.
type RenderOptions struct {
	IO         *cmdutil.IOStreams
	Client     *cmdutil.ClientOptions
	Name       string
	Params     []string
	ParamsFile string
}

// NewCmdRender returns `phoenix pipeline render`. runF, when not nil, runs
// instead of runRender.
func NewCmdRender(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *RenderOptions) error) *cobra.Command {
	opts := &RenderOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "render NAME",
		Short: "Render a pipeline with parameters into a validated collector configuration",
		Long: `Render a catalog pipeline with parameters and validate the result with the
collector distribution's own components. The configuration is printed on
stdout, its hash on stderr; an invalid result prints every problem with its
configuration path and exits 1.`,
		Example: `  phoenix pipeline render topk-rollup --param k=15 --param destination=none
  phoenix pipeline render baseline --params-file params.yaml > collector.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRender(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.Params, "param", "p", nil, "parameter key=value (repeatable; values read as YAML)")
	cmd.Flags().StringVar(&opts.ParamsFile, "params-file", "", "YAML or JSON file of parameters")
	return cmd
}

// runRender renders a pipeline through the server.
func runRender(ctx context.Context, opts *RenderOptions) error {
	params, err := cmdutil.ParseParams(opts.Params, opts.ParamsFile)
	if err != nil {
		return err
	}
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	r, err := c.RenderPipeline(ctx, opts.Name, params)
	if err != nil {
		return fmt.Errorf("rendering %s: %w", opts.Name, err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "# %s %s, config hash %s\n", r.Pipeline, r.Version, r.Hash)
	_, err = fmt.Fprint(opts.IO.Out, r.Config)
	return err
}

// ValidateOptions are the inputs of `phoenix pipeline validate`.
type ValidateOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	File   string
}

// NewCmdValidate returns `phoenix pipeline validate`. runF, when not nil,
// runs instead of runValidate.
func NewCmdValidate(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: ios, Client: client}
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Validate a complete collector configuration on the server",
		Long: `Send a collector configuration to the server, which validates it exactly as it
validates every configuration before assigning it. The server resolves none of
its references (${env:NAME}, ${file:PATH}, ...): each is validated as a
placeholder, and the collector resolves it on each agent's host.

When the configuration reaches into the hosts it would run on beyond the
catalog's pipelines (a file or URL reference, an environment variable no
pipeline references, the file exporter, ...), a note on standard error lists
what: assigning it verbatim needs the admin role (docs/security.md).

To validate without a server, resolving references on this machine, use
"phoenix collector-config validate".`,
		Example: "  phoenix pipeline validate collector.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runValidate(cmd.Context(), opts)
		},
	}
}

// runValidate sends the file to the server; its problems come back in the
// error, each with its configuration path.
func runValidate(ctx context.Context, opts *ValidateOptions) error {
	raw, err := os.ReadFile(opts.File)
	if err != nil {
		return err
	}
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	v, err := c.ValidateConfig(ctx, string(raw))
	if err != nil {
		return fmt.Errorf("%s: %w", opts.File, err)
	}
	if _, err := fmt.Fprintf(opts.IO.Out, "%s: valid\n", opts.File); err != nil {
		return err
	}
	if v.RequiresAdmin {
		fmt.Fprintf(opts.IO.ErrOut, "%s: note: assigning it needs the admin role: it reaches into every host it runs on:\n", opts.File)
		for _, p := range v.HostAccess {
			fmt.Fprintf(opts.IO.ErrOut, "  %s: %s\n", p.Path, p.Message)
		}
	}
	return nil
}
