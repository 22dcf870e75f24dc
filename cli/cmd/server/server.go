// Package server implements `phoenix server`: the control plane.
package server // import "github.com/phoenix/platform/cli/cmd/server"

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/controlplane"
)

// Options are the inputs of `phoenix server`.
type Options struct {
	IO         *cmdutil.IOStreams
	ConfigFile string
	Config     controlplane.Config
	LogLevel   string
	LogFormat  string
	// changed lists flags given on the command line: they override the file.
	changed func(name string) bool
}

// NewCmd returns the server command. runF, when not nil, runs instead of
// runServer, so a test can see the options the flags make.
func NewCmd(ios *cmdutil.IOStreams, runF func(context.Context, *Options) error) *cobra.Command {
	opts := &Options{IO: ios, Config: controlplane.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: OpAMP server, REST API and experiment controller",
		Long: `Run the Phoenix control plane. Supervisors connect to the OpAMP listener
(ws://HOST:4320/v1/opamp, or plain HTTP polling on the same URL); the REST API,
the collectors' own-telemetry endpoint (/v1/metrics), /metrics, /healthz and
/readyz share the API listener. /metrics answers without a token unless
--metrics-auth is set.

The embedded store (a single file in --data-dir) needs nothing installed; give
a postgres:// URL to --store to run several replicas on PostgreSQL.

Authentication is on by default: without --tokens-file the server creates an
admin and an enrollment token in --data-dir on first start (admin.token,
enroll.token) and the phoenix CLI picks up the local admin token by itself.
Each host exchanges the enrollment token for an agent credential of its own
(phoenix agent enroll).`,
		Example: `  phoenix server
  phoenix server --data-dir /var/lib/phoenix --opamp-listen :4320 --api-listen :8080
  phoenix server --store postgres://phoenix@db:5432/phoenix --tokens-file /etc/phoenix/tokens.yaml
  phoenix server --tokens-file /etc/phoenix/tokens.yaml --metrics-auth
  phoenix server --config /etc/phoenix/server.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.changed = cmd.Flags().Changed
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runServer(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.ConfigFile, "config", "", "YAML file of server settings (flags override it)")
	bindConfigFlags(f, &opts.Config)
	f.StringVar(&opts.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&opts.LogFormat, "log-format", "text", "text or json")
	return cmd
}

func bindConfigFlags(f *pflag.FlagSet, c *controlplane.Config) {
	f.StringVar(&c.OpAMPListen, "opamp-listen", c.OpAMPListen, "OpAMP listener address")
	f.StringVar(&c.APIListen, "api-listen", c.APIListen, "REST API, own telemetry, metrics and probes listener address")
	f.StringVar(&c.PublicURL, "public-url", c.PublicURL, "API base URL as collectors reach it (default: from --api-listen)")
	f.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory for the embedded store and default tokens")
	f.StringVar(&c.Store, "store", c.Store, "embedded store file or postgres:// URL (default <data-dir>/phoenix.db)")
	f.StringVar(&c.TokensFile, "tokens-file", c.TokensFile, "tokens file (default: generated in --data-dir)")
	f.BoolVar(&c.NoAuth, "no-auth", c.NoAuth, "disable authentication (refused unless both listeners are loopback addresses)")
	f.BoolVar(&c.MetricsAuth, "metrics-auth", c.MetricsAuth, "require a token with the metrics permission (role metrics or admin) for /metrics")
	f.StringVar(&c.TLSCertFile, "tls-cert", c.TLSCertFile, "TLS certificate for both listeners")
	f.StringVar(&c.TLSKeyFile, "tls-key", c.TLSKeyFile, "TLS key for both listeners")
	f.StringVar(&c.ServerID, "server-id", c.ServerID, "this replica's identity (default: host name)")
	f.DurationVar(&c.SampleRetention, "sample-retention", c.SampleRetention, "how long to keep own-telemetry samples")
	f.DurationVar(&c.AgentRetention, "agent-retention", c.AgentRetention, "remove agents offline for longer than this, with their assignments")
	f.DurationVar(&c.StoreTimeout, "store-timeout", c.StoreTimeout, "bound on every store call; API requests answer 503 when the store does not answer within it")
	f.DurationVar(&c.PresenceLease, "presence-lease", c.PresenceLease,
		"this replica's hold on its agents, renewed every third of it; when a replica dies, another marks its agents offline within about this long (3s to 10m)")
	f.DurationVar(&c.HTTPHeartbeat, "http-heartbeat", c.HTTPHeartbeat,
		"heartbeat offered to plain-HTTP agents, their polling interval and so how soon a configuration reaches them (1s to 30s; 0: no offer, the supervisor's 30s)")
	f.StringVar(&c.PricesFile, "prices", c.PricesFile, "price table replacing the built-in one (docs/experiment-results.md)")
	f.StringVar(&c.DefaultPipeline, "default-pipeline", c.DefaultPipeline, "catalog pipeline assigned to new agents without an assignment (parameters: default_parameters in --config)")
	f.StringSliceVar(&c.AgentEnvAllowlist, "agent-env-allowlist", c.AgentEnvAllowlist,
		"glob patterns of the agents' environment variables callers without host access may name (catalog parameters such as otlp_env_headers)")
}

// runServer starts the server and blocks until the context ends (Ctrl-C,
// SIGTERM), then stops it.
func runServer(ctx context.Context, opts *Options) error {
	cfg, err := opts.resolve()
	if err != nil {
		return err
	}
	logger, err := newLogger(opts.IO.ErrOut, opts.LogLevel, opts.LogFormat)
	if err != nil {
		return err
	}
	srv, err := controlplane.New(ctx, cfg, logger)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		_ = srv.Stop(context.Background())
		return err
	}
	if g := srv.Tokens(); g.Created {
		fmt.Fprintf(opts.IO.ErrOut, "Created tokens: admin in %s, enrollment (for `phoenix agent enroll`) in %s\n", g.AdminToken, g.EnrollToken)
	}
	<-ctx.Done()
	logger.Info("shutting down")
	stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Stop(stopCtx)
}

// resolve merges the config file under the flags the user gave.
func (o *Options) resolve() (controlplane.Config, error) {
	if o.ConfigFile == "" {
		return o.Config, nil
	}
	raw, err := os.ReadFile(o.ConfigFile)
	if err != nil {
		return controlplane.Config{}, err
	}
	fileCfg := controlplane.DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&fileCfg); err != nil {
		return controlplane.Config{}, fmt.Errorf("%s: %w", o.ConfigFile, err)
	}
	// Flags given explicitly win over the file.
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	bindConfigFlags(fs, &fileCfg)
	// Every flag bindConfigFlags declares, so a new setting cannot be left out.
	var override []string
	fs.VisitAll(func(f *pflag.Flag) {
		if o.changed != nil && o.changed(f.Name) {
			override = append(override, f.Name)
		}
	})
	flagCfg := o.Config
	ours := pflag.NewFlagSet("", pflag.ContinueOnError)
	bindConfigFlags(ours, &flagCfg)
	for _, name := range override {
		// A list's String() is "[a,b]", which Set would not read back.
		if list, ok := fs.Lookup(name).Value.(pflag.SliceValue); ok {
			if err := list.Replace(ours.Lookup(name).Value.(pflag.SliceValue).GetSlice()); err != nil {
				return controlplane.Config{}, err
			}
			continue
		}
		if err := fs.Set(name, ours.Lookup(name).Value.String()); err != nil {
			return controlplane.Config{}, err
		}
	}
	return fileCfg, nil
}

func newLogger(w interface{ Write([]byte) (int, error) }, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	hopts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, hopts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, hopts)), nil
	default:
		return nil, fmt.Errorf("--log-format: %q is not text or json", format)
	}
}
