// Package root assembles the phoenix command tree.
package root // import "github.com/phoenix/platform/cli/cmd/root"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmd/agent"
	"github.com/phoenix/platform/cli/cmd/collectorconfig"
	"github.com/phoenix/platform/cli/cmd/config"
	"github.com/phoenix/platform/cli/cmd/demo"
	"github.com/phoenix/platform/cli/cmd/experiment"
	"github.com/phoenix/platform/cli/cmd/loadsim"
	"github.com/phoenix/platform/cli/cmd/pipeline"
	"github.com/phoenix/platform/cli/cmd/server"
	"github.com/phoenix/platform/cli/cmd/version"
	"github.com/phoenix/platform/cli/cmdutil"
)

// NewCmd returns the root command with every subcommand attached.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "phoenix",
		Short: "Cut the cost of per-process host metrics, and prove it",
		Long: `phoenix drives the Phoenix platform: the phoenix-collector distribution,
its pipelines, and the control plane that runs A/B pipeline experiments.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	cmd.SetIn(ios.In)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	cmd.AddCommand(
		version.NewCmd(ios),
		collectorconfig.NewCmd(ios),
		demo.NewCmd(ios),
		loadsim.NewCmd(ios),
		server.NewCmd(ios),
		agent.NewCmd(ios),
		pipeline.NewCmd(ios),
		config.NewCmd(ios),
		experiment.NewCmd(ios),
	)
	return cmd
}

// Main runs the command line and returns the process exit status. Ctrl-C and
// SIGTERM cancel the command's context so long-running commands clean up.
func Main(args []string) int {
	ios := cmdutil.System()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	cmd := NewCmd(ios)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		if !errors.Is(err, cmdutil.ErrSilent) {
			fmt.Fprintf(ios.ErrOut, "Error: %v\n", err)
		}
		return 1
	}
	return 0
}
