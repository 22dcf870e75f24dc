// Package version implements `phoenix version`.
package version // import "github.com/phoenix/platform/cli/cmd/version"

import (
	"context"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// Version is set at build time by the Makefile (-ldflags -X).
var Version = "dev"

// Info is what `phoenix version -o json` prints.
type Info struct {
	Version   string `json:"version" yaml:"version"`
	GoVersion string `json:"go_version" yaml:"go_version"`
	Platform  string `json:"platform" yaml:"platform"`
}

// Options are the inputs of `phoenix version`.
type Options struct {
	IO     *cmdutil.IOStreams
	Format cmdutil.Format
}

// NewCmd returns the version command. runF, when not nil, runs instead of
// runVersion.
func NewCmd(ios *cmdutil.IOStreams, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: ios}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the phoenix version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runVersion(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runVersion prints the version, the Go release and the platform.
func runVersion(_ context.Context, opts *Options) error {
	info := Info{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, info)
	}
	_, err := fmt.Fprintf(opts.IO.Out, "phoenix %s (%s, %s)\n", info.Version, info.GoVersion, info.Platform)
	return err
}
