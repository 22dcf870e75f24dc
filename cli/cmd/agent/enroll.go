package agent

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/agentidentity"
	"github.com/phoenix/platform/cli/cmdutil"
)

// DefaultIdentityDir is where a host keeps its agent identity: the systemd
// unit's state directory and the DaemonSet's hostPath.
const DefaultIdentityDir = "/var/lib/phoenix/agent"

// EnrollOptions are the inputs of `phoenix agent enroll`.
type EnrollOptions struct {
	IO              *cmdutil.IOStreams
	Client          *cmdutil.ClientOptions
	Dir             string
	EnrollTokenFile string
	HostName        string
	Force           bool
}

// NewCmdEnroll returns `phoenix agent enroll`. runF, when not nil, runs
// instead of runEnroll.
func NewCmdEnroll(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *EnrollOptions) error) *cobra.Command {
	opts := &EnrollOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "enroll",
		Short: "Give this host an agent identity of its own",
		Long: `Exchange an enrollment token for an agent identity: an instance UID the
server chose and a credential bound to it. Both are written to --dir, one
value per file (instance_id, and token with mode 0600), where the supervisor's
configuration reads them:

  server:
    headers:
      Authorization: Bearer ${file:/var/lib/phoenix/agent/token}
  agent:
    instance_id: ${file:/var/lib/phoenix/agent/instance_id}
    env:
      PHOENIX_AGENT_TOKEN: ${file:/var/lib/phoenix/agent/token}

The credential speaks for this agent only; the enrollment token can do
nothing but enroll, and is not needed again.

Safe to run on every start: an identity the server still accepts is kept,
and so is one the server cannot be asked about (the host boots while the
server is down). An identity the server refuses (revoked, or the agent
deleted) is replaced by a new one, a new agent in the inventory; --force
replaces it regardless. The instance UID is printed on standard output.

The enrollment token comes from --enroll-token-file, else the environment
variable PHOENIX_ENROLL_TOKEN, else, for a server on this host, the local
server's enroll.token.`,
		Example: `  phoenix agent enroll --server https://phoenix.example.com --enroll-token-file /etc/phoenix/enroll.token
  phoenix agent enroll --dir ./agent-1 --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runEnroll(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", DefaultIdentityDir, "identity directory (instance_id and token)")
	f.StringVar(&opts.EnrollTokenFile, "enroll-token-file", "", "file holding the enrollment token")
	f.StringVar(&opts.HostName, "host-name", "", "host name for the server's log (default: this host's name)")
	f.BoolVar(&opts.Force, "force", false, "enroll anew even if the stored identity is valid")
	return cmd
}

func runEnroll(ctx context.Context, opts *EnrollOptions) error {
	server := opts.Client.ServerURL()
	token, err := cmdutil.EnrollToken(opts.EnrollTokenFile, server)
	if err != nil {
		return err
	}
	host := opts.HostName
	if host == "" {
		host, _ = os.Hostname()
	}
	id, outcome, err := agentidentity.Ensure(ctx, agentidentity.EnrollOptions{
		Server: server, EnrollToken: token, Dir: opts.Dir, HostName: host, Force: opts.Force,
	})
	if err != nil {
		return err
	}
	switch outcome {
	case agentidentity.Enrolled:
		fmt.Fprintf(opts.IO.ErrOut, "enrolled as agent %s; identity in %s\n", id.InstanceUID, opts.Dir)
	case agentidentity.Kept:
		fmt.Fprintf(opts.IO.ErrOut, "already enrolled as agent %s (%s)\n", id.InstanceUID, opts.Dir)
	case agentidentity.KeptUnverified:
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s cannot be reached; keeping agent %s from %s unverified\n", server, id.InstanceUID, opts.Dir)
	case agentidentity.Replaced:
		fmt.Fprintf(opts.IO.ErrOut, "the stored identity was replaced (refused by the server, or --force): now agent %s; restart the supervisor\n", id.InstanceUID)
	}
	_, err = fmt.Fprintln(opts.IO.Out, id.InstanceUID)
	return err
}

// RotateOptions are the inputs of `phoenix agent rotate`.
type RotateOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	Dir    string
}

// NewCmdRotate returns `phoenix agent rotate`.
func NewCmdRotate(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *RotateOptions) error) *cobra.Command {
	opts := &RotateOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "rotate",
		Short: "Replace this host's agent credential with a new one",
		Long: `Ask the server for a new credential for this host's agent (same instance UID)
and write it to --dir. The credential it replaces keeps working until the
time printed (the server's rotation grace, one hour by default): restart the
supervisor before then so it sends the new one.`,
		Example: `  phoenix agent rotate --server https://phoenix.example.com && systemctl restart phoenix-agent`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRotate(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", DefaultIdentityDir, "identity directory (instance_id and token)")
	return cmd
}

func runRotate(ctx context.Context, opts *RotateOptions) error {
	cred, err := agentidentity.Rotate(ctx, opts.Client.ServerURL(), opts.Dir)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(opts.IO.ErrOut, "new credential for agent %s in %s; the old one works until %s: restart the supervisor before then\n",
		cred.InstanceUID, agentidentity.TokenPath(opts.Dir), cred.PreviousValidUntil.Local().Format("2006-01-02 15:04:05 MST"))
	return err
}

// RevokeOptions are the inputs of `phoenix agent revoke`.
type RevokeOptions struct {
	IO     *cmdutil.IOStreams
	Client *cmdutil.ClientOptions
	UID    string
}

// NewCmdRevoke returns `phoenix agent revoke`.
func NewCmdRevoke(ios *cmdutil.IOStreams, client *cmdutil.ClientOptions, runF func(context.Context, *RevokeOptions) error) *cobra.Command {
	opts := &RevokeOptions{IO: ios, Client: client}
	cmd := &cobra.Command{
		Use:   "revoke INSTANCE-UID",
		Short: "Revoke an agent's credential (admin)",
		Long: `Revoke an agent's credential: its OpAMP connection is closed and every later
request with the credential is refused. The agent stays in the inventory,
offline. To bring the host back, run ` + "`phoenix agent enroll`" + ` on it again (it
then is a new agent). Needs the admin role.`,
		Example: "  phoenix agent revoke 0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.UID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRevoke(cmd.Context(), opts)
		},
	}
	return cmd
}

func runRevoke(ctx context.Context, opts *RevokeOptions) error {
	c, err := opts.Client.Client()
	if err != nil {
		return err
	}
	if err := c.RevokeCredential(ctx, opts.UID); err != nil {
		return fmt.Errorf("revoking agent %s's credential: %w", opts.UID, err)
	}
	_, err = fmt.Fprintf(opts.IO.ErrOut, "revoked agent %s's credential; its connection is closed\n", opts.UID)
	return err
}
