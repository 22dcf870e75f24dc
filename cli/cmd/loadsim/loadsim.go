// Package loadsim implements `phoenix loadsim`: load-simulation profiles acted
// out by real OS processes on this host, so the real host_metrics scraper,
// and everything after it, sees the population a profile describes.
//
// The commands here parse flags and print; the runtime (the plan, the
// supervisor of workers, the spawner) is cli/loadsim, and the worker process
// is cli/loadworker.
package loadsim // import "github.com/phoenix/platform/cli/cmd/loadsim"

import (
	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// NewCmd returns the loadsim command and its subcommands.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "loadsim",
		Short: "Run a load-simulation profile as real processes on this host",
		Long: `Load simulation puts a known process population on this host, described by
a profile (see 'phoenix loadsim profiles'), so experiments and the demo have
the same workload every time: its size, churn, CPU and memory spread, and its
critical daemons. The process_sim receiver emits the same profiles as
synthetic scrapes inside the collector.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdRun(ios, nil), NewCmdProfiles(ios, nil))
	return cmd
}
