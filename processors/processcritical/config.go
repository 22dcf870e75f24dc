package processcritical // import "github.com/phoenix/platform/processors/processcritical"

import (
	"errors"
	"time"

	"github.com/phoenix/platform/processors/contract/criticalrules"
)

// ErrNonPositiveTTL is returned when process_ttl is zero or negative.
var ErrNonPositiveTTL = errors.New("process_ttl must be positive")

// Config is the process_critical configuration.
type Config struct {
	// Rules mark matching processes as critical; the first matching rule is
	// recorded. Setting rules replaces the default rule set entirely.
	Rules criticalrules.Rules `mapstructure:"rules"`
	// ProcessTTL evicts a process's cached match once it has not been seen for
	// this long, which bounds the processor's memory.
	ProcessTTL time.Duration `mapstructure:"process_ttl"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration. Rules validate themselves.
func (cfg *Config) Validate() error {
	if cfg.ProcessTTL <= 0 {
		return ErrNonPositiveTTL
	}
	return nil
}

// DefaultRules is the shipped rule set: the services a host is usually run for
// and the agents that watch it. Replace it with `rules:` in the configuration.
func DefaultRules() criticalrules.Rules {
	return criticalrules.Rules{
		{Name: "databases", ExecutableName: "postgres|postmaster|mysqld|mariadbd|mongod|redis-server|valkey-server|etcd|clickhouse-server|memcached"},
		{Name: "web-servers", ExecutableName: "nginx|httpd|apache2|haproxy|envoy|caddy|traefik"},
		{Name: "container-runtime", ExecutableName: "kubelet|containerd|dockerd|crio|containerd-shim.*"},
		{Name: "system", ExecutableName: "systemd|systemd-journald|systemd-logind|sshd|init"},
		{Name: "observability", ExecutableName: "phoenix-collector|opampsupervisor|otelcol.*|node_exporter|prometheus"},
	}
}
