// Package collectorconfig implements `phoenix collector-config`: working with
// phoenix-collector configuration files without running a collector.
package collectorconfig // import "github.com/phoenix/platform/cli/cmd/collectorconfig"

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/pipelines/distribution"
)

// NewCmd returns the collector-config command group.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collector-config",
		Short: "Work with phoenix-collector configuration files",
	}
	cmd.AddCommand(NewCmdValidate(ios, nil))
	return cmd
}

// ValidateOptions are the inputs of `phoenix collector-config validate`.
type ValidateOptions struct {
	IO     *cmdutil.IOStreams
	Files  []string
	Format cmdutil.Format
}

// FileResult is the outcome for one file, as printed with -o json|yaml.
type FileResult struct {
	File     string                 `json:"file" yaml:"file"`
	Valid    bool                   `json:"valid" yaml:"valid"`
	Problems []distribution.Problem `json:"problems,omitempty" yaml:"problems,omitempty"`
}

// NewCmdValidate returns `phoenix collector-config validate`. runF, when not
// nil, runs instead of runValidate, so a test can see the options the flags
// make.
func NewCmdValidate(ios *cmdutil.IOStreams, runF func(context.Context, *ValidateOptions) error) *cobra.Command {
	opts := &ValidateOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Validate collector configurations with the distribution's own components",
		Long: `Validate one or more phoenix-collector configuration files in process, with
the same component factories and checks the collector runs at startup: unknown
components and keys, each component's own validation, and pipeline wiring.

Every problem is printed with the configuration path it concerns, for example
"processors::process_critical::rules::0". The exit status is 1 when any file
is invalid. References such as ${env:API_KEY} and ${file:/path} are resolved
on this machine, from the current environment and filesystem, as a collector
started here would; problems may show their values. The server's validation
("phoenix pipeline validate") resolves none: it validates each as a
placeholder.`,
		Example: `  phoenix collector-config validate collector.yaml
  phoenix collector-config validate -o json pipelines/*.yaml`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = args
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runValidate(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runValidate validates every file, even after an invalid one, and reports
// them all; any invalid file makes the exit status 1.
func runValidate(ctx context.Context, opts *ValidateOptions) error {
	results := make([]FileResult, 0, len(opts.Files))
	failed := false
	for _, f := range opts.Files {
		res := FileResult{File: f, Valid: true}
		if err := distribution.ValidateFile(ctx, f); err != nil {
			res.Valid, failed = false, true
			if invalid, ok := distribution.AsInvalid(err); ok {
				res.Problems = invalid.Problems
			} else {
				res.Problems = []distribution.Problem{{Message: err.Error()}}
			}
		}
		results = append(results, res)
	}

	if opts.Format != cmdutil.FormatTable {
		if err := cmdutil.WriteStructured(opts.IO.Out, opts.Format, results); err != nil {
			return err
		}
	} else {
		for _, r := range results {
			if r.Valid {
				fmt.Fprintf(opts.IO.Out, "%s: valid\n", r.File)
				continue
			}
			fmt.Fprintf(opts.IO.ErrOut, "%s: invalid\n", r.File)
			for _, p := range r.Problems {
				fmt.Fprintf(opts.IO.ErrOut, "  %s\n", p)
			}
		}
	}
	if failed {
		return cmdutil.ErrSilent
	}
	return nil
}
