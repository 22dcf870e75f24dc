package controlplane // import "github.com/phoenix/platform/opamp-server/controlplane"

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/storeopen"
)

// Config is everything `phoenix server` can be told, by flags or file.
type Config struct {
	// OpAMPListen is the OpAMP listener address (supervisors connect here).
	OpAMPListen string `yaml:"opamp_listen"`
	// APIListen serves the REST API, own telemetry, /metrics and probes.
	APIListen string `yaml:"api_listen"`
	// PublicURL is the API's base URL as collectors reach it, used for the
	// own-telemetry endpoint offered to them. Default: derived from
	// APIListen (127.0.0.1 when listening on all interfaces).
	PublicURL string `yaml:"public_url"`
	// DataDir holds the embedded store and the default tokens.
	DataDir string `yaml:"data_dir"`
	// Store is the embedded store's file path or a postgres:// URL. Default:
	// <data_dir>/phoenix.db.
	Store string `yaml:"store"`
	// TokensFile lists API, metrics and enrollment tokens (SHA-256 digests
	// and roles); agents' own credentials are in the store.
	// Default: generated in DataDir on first start.
	TokensFile string `yaml:"tokens_file"`
	// NoAuth disables authentication entirely (local experiments only).
	NoAuth bool `yaml:"no_auth"`
	// MetricsAuth makes GET /metrics require a token whose roles grant the
	// metrics permission (role metrics, or admin). Off by default: existing
	// scrape configurations carry no token, and /metrics holds no secret.
	MetricsAuth bool `yaml:"metrics_auth"`
	// TLSCertFile and TLSKeyFile enable TLS on both listeners.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// ServerID identifies this replica; default: the host name.
	ServerID string `yaml:"server_id"`
	// SampleRetention is how long own-telemetry samples are kept.
	SampleRetention time.Duration `yaml:"sample_retention"`
	// AgentRetention is how long an agent may stay offline before it is
	// removed from the inventory, with its assignment.
	AgentRetention time.Duration `yaml:"agent_retention"`
	// StoreTimeout bounds every store call: a store that stops answering
	// makes API requests fail with 503 within it instead of hanging.
	StoreTimeout time.Duration `yaml:"store_timeout"`
	// PresenceLease is how long this replica's hold on its agents lasts
	// without renewal (every third of it): when a replica dies, another
	// marks its agents offline within about this long.
	PresenceLease time.Duration `yaml:"presence_lease"`
	// HTTPHeartbeat is the heartbeat offered to plain-HTTP agents, which
	// is how often they poll: a configuration reaches them at their next
	// poll. 0 offers nothing (the supervisor polls every 30s).
	HTTPHeartbeat time.Duration `yaml:"http_heartbeat"`
	// PricesFile replaces the built-in price table experiments cost with.
	PricesFile string `yaml:"prices_file"`
	// DefaultPipeline is assigned, rendered for the agent with
	// DefaultParameters, to every new agent that has no assignment, so a
	// new host exports from the moment it connects. Empty assigns nothing.
	DefaultPipeline   string         `yaml:"default_pipeline"`
	DefaultParameters map[string]any `yaml:"default_parameters"`
	// AgentEnvAllowlist holds glob patterns (path.Match) of the agents'
	// environment variables a caller without the host-access permission
	// may name: through catalog parameters such as otlp_env_headers, or in
	// a verbatim configuration. The collector sends their values where the
	// configuration sends data. Variables the catalog's own pipelines
	// reference are always allowed. Default:
	// assignment.DefaultEnvAllowlist; empty allows only those.
	AgentEnvAllowlist []string `yaml:"agent_env_allowlist"`
}

// DefaultConfig returns the defaults `phoenix server` starts with.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		OpAMPListen:     ":4320",
		APIListen:       ":8080",
		DataDir:         defaultDataDir(),
		ServerID:        host,
		SampleRetention: 7 * 24 * time.Hour,
		StoreTimeout:    store.DefaultCallTimeout,
		PresenceLease:   DefaultPresenceLease,
		HTTPHeartbeat:   DefaultHTTPHeartbeat,
		AgentRetention:  30 * 24 * time.Hour,
		// A copy: a flag or file changes the configuration's own.
		AgentEnvAllowlist: slices.Clone(assignment.DefaultEnvAllowlist),
	}
}

// Validate checks the configuration; errors name the setting.
func (c Config) Validate() error {
	var errs []error
	for name, addr := range map[string]string{"opamp_listen": c.OpAMPListen, "api_listen": c.APIListen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			errs = append(errs, fmt.Errorf("%s: %q is not host:port: %w", name, addr, err))
		}
	}
	if c.DataDir == "" && (c.Store == "" || (c.TokensFile == "" && !c.NoAuth)) {
		errs = append(errs, errors.New("data_dir: required unless store and tokens_file (or no_auth) are set"))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("tls_cert_file and tls_key_file must be set together"))
	}
	if c.TokensFile != "" && c.NoAuth {
		errs = append(errs, errors.New("tokens_file and no_auth contradict each other"))
	}
	if c.MetricsAuth && c.NoAuth {
		errs = append(errs, errors.New("metrics_auth and no_auth contradict each other: /metrics cannot require a token "+
			"when authentication is off"))
	}
	if c.PublicURL != "" && !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("public_url: %q must start with http:// or https://", c.PublicURL))
	}
	if c.SampleRetention <= 0 {
		errs = append(errs, errors.New("sample_retention must be positive"))
	}
	if c.StoreTimeout <= 0 {
		errs = append(errs, errors.New("store_timeout must be positive"))
	}
	if c.HTTPHeartbeat != 0 && (c.HTTPHeartbeat < MinHTTPHeartbeat || c.HTTPHeartbeat > MaxHTTPHeartbeat || c.HTTPHeartbeat%time.Second != 0) {
		errs = append(errs, fmt.Errorf("http_heartbeat must be 0 (no offer) or whole seconds between %s and %s, got %s",
			MinHTTPHeartbeat, MaxHTTPHeartbeat, c.HTTPHeartbeat))
	}
	if c.PresenceLease < MinPresenceLease || c.PresenceLease > MaxPresenceLease {
		errs = append(errs, fmt.Errorf("presence_lease must be between %s and %s, got %s", MinPresenceLease, MaxPresenceLease, c.PresenceLease))
	}
	if c.AgentRetention < time.Hour {
		errs = append(errs, errors.New("agent_retention must be at least 1h: agents are offline for minutes on every restart"))
	}
	if c.NoAuth {
		for name, addr := range map[string]string{"opamp_listen": c.OpAMPListen, "api_listen": c.APIListen} {
			if !loopback(addr) {
				errs = append(errs, fmt.Errorf("no_auth: %s %q is not a loopback address: without authentication anyone who reaches "+
					"the server controls every agent, so no_auth is only for 127.0.0.1 or [::1]", name, addr))
			}
		}
	}
	if c.ServerID == "" {
		errs = append(errs, errors.New("server_id must not be empty"))
	}
	if err := assignment.CheckEnvAllowlist(c.AgentEnvAllowlist); err != nil {
		errs = append(errs, fmt.Errorf("agent_env_allowlist: %w", err))
	}
	return errors.Join(errs...)
}

func (c Config) storeDSN() string {
	if c.Store != "" {
		return c.Store
	}
	return filepath.Join(c.DataDir, "phoenix.db")
}

func (c Config) storeKind() string {
	if storeopen.IsPostgres(c.storeDSN()) {
		return "postgres"
	}
	return "embedded"
}

// loopback reports whether a listen address only accepts connections from
// this host.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Heartbeat offered to plain-HTTP agents (Config.HTTPHeartbeat). Each poll
// costs the server about as much as a WebSocket agent's heartbeat.
const (
	DefaultHTTPHeartbeat = 10 * time.Second
	MinHTTPHeartbeat     = time.Second
	// MaxHTTPHeartbeat keeps three polls inside the 90s after which a
	// silent polling agent is marked offline.
	MaxHTTPHeartbeat = 30 * time.Second
)
