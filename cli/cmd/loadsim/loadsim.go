// Package loadsim implements `phoenix loadsim`: load-simulation profiles acted
// out by real OS processes on this host, so the real host_metrics scraper,
// and everything after it, sees the population a profile describes; and
// fleets of simulated agents for a control plane (`loadsim agents`).
//
// The commands here parse flags and print; the runtime (the plan, the
// supervisor of workers, the spawner) is cli/loadsim, the worker process is
// cli/loadworker, and the simulated fleet is cli/fleetsim.
package loadsim // import "github.com/phoenix/platform/cli/cmd/loadsim"

import (
	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// NewCmd returns the loadsim command and its subcommands.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "loadsim",
		Short: "Simulate load: process populations on this host, fleets of agents for the server",
		Long: `Load simulation puts a known process population on this host, described by
a profile (see 'phoenix loadsim profiles'), so experiments and the demo have
the same workload every time: its size, churn, CPU and memory spread, and its
critical daemons. The process_sim receiver emits the same profiles as
synthetic scrapes inside the collector.

'phoenix loadsim agents' simulates the other side of scale: thousands of
agents, in one process, connected to a control plane.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdRun(ios, nil), NewCmdProfiles(ios, nil), NewCmdAgents(ios, nil))
	return cmd
}
