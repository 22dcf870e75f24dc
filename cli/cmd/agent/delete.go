package agent

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/cmdutil"
)

// DeleteOptions are the inputs of `phoenix agent delete`.
type DeleteOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	UID    string
}

// NewCmdDelete returns `phoenix agent delete`. runF, when not nil, runs
// instead of runDelete.
func NewCmdDelete(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "delete INSTANCE-UID",
		Short: "Remove an agent, with its assignment, from the inventory (admin)",
		Long: `Remove an agent and its assignment from the server's inventory, for a host
that is gone for good. Its own-telemetry samples stay until the sample
retention drops them. Its credential is revoked with it: to come back the
host must enroll again (phoenix agent enroll), as a new agent. The server removes
agents offline for longer than its agent_retention (30 days by default)
by itself. Needs the admin role.`,
		Example: "  phoenix agent delete 0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.UID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runDelete(cmd.Context(), opts)
		},
	}
	return cmd
}

// runDelete removes one agent.
func runDelete(ctx context.Context, opts *DeleteOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	if err := c.DeleteAgent(ctx, opts.UID); err != nil {
		return fmt.Errorf("deleting agent %s: %w", opts.UID, err)
	}
	_, err = fmt.Fprintf(opts.IO.ErrOut, "removed agent %s and its assignment\n", opts.UID)
	return err
}
