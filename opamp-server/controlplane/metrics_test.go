package controlplane

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/auth"
)

// writeTokens writes a tokens file with one token per name, each of the
// roles given, and returns its path.
func writeTokens(t *testing.T, roles map[string]auth.Role) string {
	t.Helper()
	var tf auth.TokensFile
	for token, role := range roles {
		tf.Tokens = append(tf.Tokens, auth.TokenEntry{Name: string(role), TokenSHA256: auth.Digest(token), Roles: []auth.Role{role}})
	}
	raw, err := yaml.Marshal(tf)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "tokens.yaml")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	return path
}

const (
	prometheusToken = "prometheus-token-000000000000"
	viewerToken     = "viewer-token-0000000000000000"
	adminToken      = "admin-token-0000000000000000"
)

// Finding: /metrics answered anyone who reached the API listener.
func TestMetricsAuthNeedsTheMetricsPermission(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.MetricsAuth = true
	cfg.TokensFile = writeTokens(t, map[string]auth.Role{
		prometheusToken: auth.RoleMetrics, viewerToken: auth.RoleViewer, adminToken: auth.RoleAdmin,
	})
	s := startServer(t, cfg)
	c := newClient(t)
	tests := []struct {
		name, token string
		status      int
	}{
		{name: "no token", status: http.StatusUnauthorized},
		{name: "unknown token", token: "nope", status: http.StatusUnauthorized},
		{name: "viewer", token: viewerToken, status: http.StatusForbidden},
		{name: "metrics role", token: prometheusToken, status: http.StatusOK},
		{name: "admin", token: adminToken, status: http.StatusOK},
	}
	for _, tt := range tests {
		status, header, body := c.do(http.MethodGet, s.APIURL()+"/metrics", tt.token, "", nil)
		assert.Equal(t, tt.status, status, "%s: %s", tt.name, body)
		switch tt.status {
		case http.StatusOK:
			assert.Contains(t, string(body), "# TYPE phoenix_config_pushes_total counter", tt.name)
		case http.StatusUnauthorized:
			assert.Equal(t, `Bearer realm="phoenix"`, header.Get("WWW-Authenticate"), tt.name)
			assert.NotContains(t, string(body), "phoenix_", tt.name)
		case http.StatusForbidden:
			assert.Contains(t, string(body), "do not allow metrics", tt.name)
		}
	}
	// The probes stay open: the kubelet sends no token.
	status, _ := c.get(s.APIURL()+"/healthz", "")
	assert.Equal(t, http.StatusOK, status)
}

func TestMetricsAnswerWithoutTokenByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, testConfig(t))
	status, body := newClient(t).get(s.APIURL()+"/metrics", "")
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "# TYPE phoenix_config_pushes_total counter")
}

func TestMetricsAuthIsRefusedWithoutAuthentication(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.NoAuth, cfg.MetricsAuth = true, true
	s, err := New(t.Context(), cfg, nil)
	require.Error(t, err)
	assert.Nil(t, s)
	assert.Contains(t, err.Error(), "metrics_auth and no_auth contradict each other")
}
