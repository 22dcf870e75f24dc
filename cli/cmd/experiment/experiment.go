// Package experiment implements `phoenix experiment`: A/B pipeline
// experiments on the fleet.
package experiment // import "github.com/phoenix/platform/cli/cmd/experiment"

import (
	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// NewCmd returns the experiment command group.
func NewCmd(ios *cmdutil.IOStreams) *cobra.Command {
	client := &cmdutil.ClientOptions{}
	cmd := &cobra.Command{
		Use:   "experiment",
		Short: "Run A/B pipeline experiments: prove what a candidate saves, then roll it out or back",
		Long: `An experiment compares a candidate pipeline with a baseline on the agents a
selector picks. In paired mode (the default) every agent runs both side by side
from one process scrape, the candidate in shadow; in split mode the agents are
divided into two cohorts. The server deploys, waits for every agent to apply,
measures after a warm-up, analyses (series, datapoints, bytes, critical
processes, cost per price model) and returns every agent to its previous
configuration unless you promote the candidate.

Lifecycle: pending → deploying → running → analyzing → completed | failed | cancelled.
A completed experiment's candidate is promoted in gated waves (see promote --help).`,
	}
	cmdutil.AddClientFlags(cmd, client)
	cmd.AddCommand(
		NewCmdCreate(ios, client, nil),
		NewCmdAction(ios, client, "start", "Start a pending experiment", nil),
		NewCmdAction(ios, client, "stop", "Cancel an experiment; its agents get their previous configurations back", nil),
		NewCmdPromote(ios, client, nil),
		NewCmdAction(ios, client, "rollback", "Give an experiment's agents the configurations they had before it", nil),
		NewCmdList(ios, client, nil),
		NewCmdStatus(ios, client, nil),
		NewCmdWatch(ios, client, nil),
		NewCmdResults(ios, client, nil),
		NewCmdReport(ios, client, nil),
	)
	return cmd
}
