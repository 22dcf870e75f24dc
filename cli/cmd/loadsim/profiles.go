package loadsim // import "github.com/phoenix/platform/cli/cmd/loadsim"

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// ProfilesOptions are the inputs of `phoenix loadsim profiles`.
type ProfilesOptions struct {
	IO     *cmdutil.IOStreams
	Format cmdutil.Format
}

// NewCmdProfiles returns `phoenix loadsim profiles`. runF, when not nil,
// runs instead of runProfiles.
func NewCmdProfiles(ios *cmdutil.IOStreams, runF func(context.Context, *ProfilesOptions) error) *cobra.Command {
	opts := &ProfilesOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "profiles",
		Short: "List the load-simulation profiles",
		Long: `List the load-simulation profiles shared by 'phoenix loadsim run' and the
process_sim receiver. Ranges (such as 50–200 processes) are resolved to one
value by the seed; -o yaml prints each profile as its file describes it.`,
		Example: `  phoenix loadsim profiles
  phoenix loadsim profiles -o yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runProfiles(cmd.Context(), opts)
		},
	}
	cmdutil.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// runProfiles prints every profile: a table, or each whole with -o json|yaml.
func runProfiles(_ context.Context, opts *ProfilesOptions) error {
	all, err := profiles.All()
	if err != nil {
		return fmt.Errorf("load profiles: %w", err)
	}
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, all)
	}
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPROCESSES\tSTARTS/S\tDAEMONS\tCRITICAL\tSEED\tDESCRIPTION")
	for _, p := range all {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%s\n", p.Name, p.Processes, p.StartsPerSecond,
			p.Daemons, strings.Join(p.CriticalNames, ","), p.Seed, p.Description)
	}
	return tw.Flush()
}
