package controlplane

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func validConfig() Config {
	return Config{OpAMPListen: ":4320", APIListen: "127.0.0.1:8080", DataDir: "/var/lib/phoenix",
		ServerID: "replica-1", SampleRetention: time.Hour, StoreTimeout: time.Second, AgentRetention: 24 * time.Hour,
		PresenceLease: 10 * time.Second}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		mention []string // each must appear; none means valid
	}{
		{name: "valid"},
		{name: "opamp_listen without port", edit: func(c *Config) { c.OpAMPListen = "localhost" },
			mention: []string{"opamp_listen", `"localhost"`}},
		{name: "api_listen empty", edit: func(c *Config) { c.APIListen = "" }, mention: []string{"api_listen"}},
		{name: "no data_dir", edit: func(c *Config) { c.DataDir = "" }, mention: []string{"data_dir"}},
		{name: "no data_dir with a store but generated tokens", edit: func(c *Config) { c.DataDir, c.Store = "", "/tmp/p.db" },
			mention: []string{"data_dir"}},
		{name: "no data_dir with store and tokens_file", edit: func(c *Config) {
			c.DataDir, c.Store, c.TokensFile = "", "postgres://db/phoenix", "/etc/phoenix/tokens.yaml"
		}},
		{name: "no data_dir with store and no_auth", edit: func(c *Config) {
			c.DataDir, c.Store, c.NoAuth, c.OpAMPListen = "", "/tmp/p.db", true, "127.0.0.1:4320"
		}},
		// Finding: --no-auth was accepted on every interface.
		{name: "no_auth on all interfaces", edit: func(c *Config) { c.NoAuth = true },
			mention: []string{"no_auth", "opamp_listen", `":4320"`, "loopback"}},
		{name: "no_auth on a routable address", edit: func(c *Config) { c.NoAuth, c.OpAMPListen, c.APIListen = true, "[::1]:4320", "10.0.0.5:8080" },
			mention: []string{"api_listen", "10.0.0.5:8080"}},
		{name: "no_auth on localhost", edit: func(c *Config) { c.NoAuth, c.OpAMPListen, c.APIListen = true, "localhost:4320", "[::1]:8080" }},
		{name: "agent_retention short", edit: func(c *Config) { c.AgentRetention = time.Minute }, mention: []string{"agent_retention"}},
		{name: "presence_lease shortest", edit: func(c *Config) { c.PresenceLease = 3 * time.Second }},
		{name: "presence_lease longest", edit: func(c *Config) { c.PresenceLease = 10 * time.Minute }},
		{name: "presence_lease short", edit: func(c *Config) { c.PresenceLease = 2 * time.Second },
			mention: []string{"presence_lease", "between 3s and 10m0s", "got 2s"}},
		{name: "presence_lease long", edit: func(c *Config) { c.PresenceLease = 11 * time.Minute }, mention: []string{"presence_lease"}},
		{name: "presence_lease zero", edit: func(c *Config) { c.PresenceLease = 0 }, mention: []string{"presence_lease"}},
		{name: "http_heartbeat off", edit: func(c *Config) { c.HTTPHeartbeat = 0 }},
		{name: "http_heartbeat 30s", edit: func(c *Config) { c.HTTPHeartbeat = 30 * time.Second }},
		{name: "http_heartbeat long", edit: func(c *Config) { c.HTTPHeartbeat = time.Minute },
			mention: []string{"http_heartbeat", "between 1s and 30s", "got 1m0s"}},
		{name: "http_heartbeat fraction", edit: func(c *Config) { c.HTTPHeartbeat = 1500 * time.Millisecond }, mention: []string{"http_heartbeat", "whole seconds"}},
		{name: "store_timeout zero", edit: func(c *Config) { c.StoreTimeout = 0 }, mention: []string{"store_timeout"}},
		{name: "certificate without key", edit: func(c *Config) { c.TLSCertFile = "cert.pem" },
			mention: []string{"tls_cert_file", "tls_key_file"}},
		{name: "key without certificate", edit: func(c *Config) { c.TLSKeyFile = "key.pem" },
			mention: []string{"tls_cert_file", "tls_key_file"}},
		{name: "tokens_file and no_auth", edit: func(c *Config) { c.TokensFile, c.NoAuth = "t.yaml", true },
			mention: []string{"tokens_file", "no_auth"}},
		{name: "metrics_auth", edit: func(c *Config) { c.MetricsAuth = true }},
		{name: "metrics_auth and no_auth", edit: func(c *Config) { c.MetricsAuth, c.NoAuth, c.OpAMPListen = true, true, "127.0.0.1:4320" },
			mention: []string{"metrics_auth and no_auth contradict each other"}},
		{name: "agent_env_allowlist", edit: func(c *Config) { c.AgentEnvAllowlist = []string{"OTLP_*", "DD_API_KEY"} }},
		{name: "agent_env_allowlist empty", edit: func(c *Config) { c.AgentEnvAllowlist = []string{} }},
		{name: "agent_env_allowlist malformed", edit: func(c *Config) { c.AgentEnvAllowlist = []string{"OTLP_[", "a b"} },
			mention: []string{"agent_env_allowlist", `"OTLP_["`, `"a b"`}},
		{name: "public_url without scheme", edit: func(c *Config) { c.PublicURL = "phoenix.example.com" },
			mention: []string{"public_url", "http://"}},
		{name: "public_url https", edit: func(c *Config) { c.PublicURL = "https://phoenix.example.com" }},
		{name: "sample_retention zero", edit: func(c *Config) { c.SampleRetention = 0 }, mention: []string{"sample_retention"}},
		{name: "sample_retention negative", edit: func(c *Config) { c.SampleRetention = -time.Hour }, mention: []string{"sample_retention"}},
		{name: "server_id empty", edit: func(c *Config) { c.ServerID = "" }, mention: []string{"server_id"}},
		{name: "every error at once", edit: func(c *Config) { c.APIListen, c.ServerID, c.SampleRetention = "x", "", 0 },
			mention: []string{"api_listen", "server_id", "sample_retention"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			if tt.edit != nil {
				tt.edit(&c)
			}
			err := c.Validate()
			if len(tt.mention) == 0 {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, m := range tt.mention {
				assert.Contains(t, err.Error(), m)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	t.Setenv("STATE_DIRECTORY", "/var/lib/phoenix-state")
	c := DefaultConfig()
	require.NoError(t, c.Validate())
	assert.Equal(t, ":4320", c.OpAMPListen)
	assert.Equal(t, ":8080", c.APIListen)
	assert.Equal(t, "/var/lib/phoenix-state", c.DataDir, "systemd's StateDirectory wins")
	assert.Equal(t, 7*24*time.Hour, c.SampleRetention)
	assert.Equal(t, 30*time.Second, c.PresenceLease)
	assert.False(t, c.NoAuth, "authentication is on by default")
	assert.False(t, c.MetricsAuth, "/metrics answers without a token by default")
	assert.Equal(t, []string{"NEW_RELIC_LICENSE_KEY", "OTLP_*"}, c.AgentEnvAllowlist)

	home := t.TempDir()
	t.Setenv("STATE_DIRECTORY", "")
	t.Setenv("HOME", home)
	assert.Equal(t, filepath.Join(home, ".local", "share", "phoenix"), DefaultConfig().DataDir)
}

func TestStoreDSN(t *testing.T) {
	tests := []struct {
		store, dataDir, dsn, kind string
	}{
		{dataDir: "/data", dsn: "/data/phoenix.db", kind: "embedded"},
		{store: "/srv/p.db", dataDir: "/data", dsn: "/srv/p.db", kind: "embedded"},
		{store: "postgres://db:5432/phoenix", dsn: "postgres://db:5432/phoenix", kind: "postgres"},
		{store: "postgresql://db/phoenix", dsn: "postgresql://db/phoenix", kind: "postgres"},
	}
	for _, tt := range tests {
		c := Config{Store: tt.store, DataDir: tt.dataDir}
		assert.Equal(t, tt.dsn, c.storeDSN())
		assert.Equal(t, tt.kind, c.storeKind())
	}
}
