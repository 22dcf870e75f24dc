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
		version.NewCmd(ios, nil),
		collectorconfig.NewCmd(ios),
		demo.NewCmd(ios, nil),
		loadsim.NewCmd(ios),
		server.NewCmd(ios, nil),
		agent.NewCmd(ios),
		pipeline.NewCmd(ios),
		config.NewCmd(ios),
		experiment.NewCmd(ios),
	)
	return cmd
}

// Main runs the command line and returns the process exit status. Ctrl-C and
// SIGTERM cancel the command's context, its cause a *cmdutil.SignalError
// naming the signal, so long-running commands clean up and can exit with the
// conventional status (cmdutil.Interrupted). A *cmdutil.ExitError sets the
// status without an "Error:" line.
func Main(args []string) int {
	ios := cmdutil.System()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		select {
		case sig := <-signals:
			cancel(&cmdutil.SignalError{Signal: sig})
		case <-ctx.Done():
		}
	}()

	cmd := NewCmd(ios)
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(ctx); err != nil {
		var exit *cmdutil.ExitError
		if errors.As(err, &exit) {
			return exit.Code
		}
		if !errors.Is(err, cmdutil.ErrSilent) {
			fmt.Fprintf(ios.ErrOut, "Error: %v\n", err)
		}
		return 1
	}
	return 0
}
