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
	cmd.AddCommand(newCmdList(ios, client), newCmdShow(ios, client), newCmdRender(ios, client), newCmdValidate(ios, client))
	return cmd
}

// summary is the part of a catalog pipeline the table shows.
func newCmdList(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	var format cmdutil.Format
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List catalog pipelines",
		Example: "  phoenix pipeline list\n  phoenix pipeline list -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := client.Client()
			if err != nil {
				return err
			}
			raw, err := c.Pipelines(cmd.Context())
			if err != nil {
				return fmt.Errorf("listing pipelines: %w", err)
			}
			if format != cmdutil.FormatTable {
				return cmdutil.WriteStructured(ios.Out, format, raw)
			}
			w := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tVERSION\tRECOMMENDED\tDESCRIPTION")
			for _, s := range raw {
				rec := ""
				if s.Recommended {
					rec = "yes"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", s.Name, s.Version, rec, s.Description)
			}
			return w.Flush()
		},
	}
	cmdutil.AddFormatFlag(cmd, &format)
	return cmd
}

func newCmdShow(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	format := cmdutil.FormatYAML
	cmd := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a pipeline and its typed parameters",
		Example: "  phoenix pipeline show topk-rollup\n  phoenix pipeline show topk-rollup -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := client.Client()
			if err != nil {
				return err
			}
			doc, err := c.Pipeline(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("pipeline %s: %w", args[0], err)
			}
			if format == cmdutil.FormatTable {
				format = cmdutil.FormatYAML
			}
			return cmdutil.WriteStructured(ios.Out, format, doc)
		},
	}
	cmd.Flags().VarP(&format, "output", "o", "output format: yaml (default) or json")
	return cmd
}

// RenderOptions are the inputs of `phoenix pipeline render`.
type RenderOptions struct {
	IO         *cmdutil.IOStreams
	Client     *cmdutil.ClientOptions
	Name       string
	Params     []string
	ParamsFile string
}

func newCmdRender(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
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
			return RunRender(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.Params, "param", "p", nil, "parameter key=value (repeatable; values read as YAML)")
	cmd.Flags().StringVar(&opts.ParamsFile, "params-file", "", "YAML or JSON file of parameters")
	return cmd
}

// RunRender renders a pipeline through the server.
func RunRender(ctx context.Context, opts *RenderOptions) error {
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

func newCmdValidate(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Validate a complete collector configuration on the server",
		Long: `Send a collector configuration to the server, which validates it exactly as it
validates every configuration before assigning it. To validate without a
server, use "phoenix collector-config validate".`,
		Example: "  phoenix pipeline validate collector.yaml",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			c, err := client.Client()
			if err != nil {
				return err
			}
			if _, err := c.ValidateConfig(cmd.Context(), string(raw)); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			_, err = fmt.Fprintf(ios.Out, "%s: valid\n", args[0])
			return err
		},
	}
}
