package assignment

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/distribution/hostaccess"
)

// verbatim is a valid configuration around one OTLP/HTTP exporter with
// the given extra exporter settings, and extra top-level sections.
func verbatim(exporterExtra, extra string) string {
	return `receivers: {host_metrics: {scrapers: {process: {}}}}
exporters:
  otlp_http:
    endpoint: https://otlp.example.com:4318
` + exporterExtra + `
` + extra + `
service: {pipelines: {metrics: {receivers: [host_metrics], exporters: [otlp_http]}}}
`
}

// The environment variables a verbatim configuration may reference
// without the admin role are the ones the catalog's own configurations
// reference, found by rendering them.
func TestCatalogEnv(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t)
	// The agent's credential is not among them: the catalog sends it to
	// this server only, and a verbatim configuration could send it
	// anywhere.
	assert.Equal(t, []string{"NEW_RELIC_LICENSE_KEY"}, s.CatalogEnv())
	s, _, _ = newService(t, func(set *Settings) { set.OwnTelemetryURL = "" })
	assert.NotContains(t, s.CatalogEnv(), apitypes.AgentTokenEnv)
}

func TestVerbatimHostAccessNeedsTheGrant(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	ctx := t.Context()
	require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: "a1", Labels: map[string]string{"env": "prod"}}))

	refused := []struct {
		name, config, path, message string
	}{
		{"file reference", verbatim(`    headers: {x-token: "${file:/var/lib/phoenix/admin.token}"}`, ""),
			"exporters::otlp_http::headers::x-token", "${file:/var/lib/phoenix/admin.token} reads file /var/lib/phoenix/admin.token"},
		{"unknown variable", verbatim(`    headers: {x-key: "${env:AWS_SECRET_ACCESS_KEY}"}`, ""),
			"exporters::otlp_http::headers::x-key", "${env:AWS_SECRET_ACCESS_KEY} reads environment variable AWS_SECRET_ACCESS_KEY, which no catalog pipeline references"},
		{"default scheme", verbatim(`    headers: {x-key: "${HOME}"}`, ""),
			"exporters::otlp_http::headers::x-key", "${HOME} reads environment variable HOME, which no catalog pipeline references"},
		{"URL reference", verbatim(`    headers: {x-key: "${http://169.254.169.254/latest/meta-data/}"}`, ""),
			"exporters::otlp_http::headers::x-key", "fetches http://169.254.169.254/latest/meta-data/ from the host"},
		{"file exporter", strings.Replace(verbatim("", "  file: {path: /etc/cron.d/phoenix}"), "exporters: [otlp_http]", "exporters: [otlp_http, file]", 1),
			"exporters::file", "writes files on the host"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			req := apitypes.AssignRequest{Config: tc.config}
			_, err := s.FromRequest(ctx, "a1", req, Grants{})
			denied, ok := AsHostAccess(err)
			require.True(t, ok, "want a HostAccessError, got %v", err)
			require.Len(t, denied.Accesses, 1)
			assert.Equal(t, tc.path, denied.Accesses[0].Path)
			assert.Contains(t, AccessMessage(denied.Accesses[0]), tc.message)
			assert.Contains(t, err.Error(), "needs the admin role")
			assert.False(t, IsRenderFailure(err), "the configuration is valid: the caller may not assign it")

			_, err = s.Assign(ctx, "a1", req, Grants{})
			assert.Error(t, err)
			_, err = s.AssignMatching(ctx, "env=prod", req, Grants{})
			assert.Error(t, err)
			_, err = st.GetAssignment(ctx, "a1")
			assert.ErrorIs(t, err, store.ErrNotFound, "nothing is stored")

			asg, err := s.FromRequest(ctx, "a1", req, Grants{HostAccess: true})
			require.NoError(t, err, "an admin may")
			assert.Equal(t, tc.config, asg.Config)
		})
	}

	allowed := map[string]string{
		"catalog variables": verbatim(`    headers: {api-key: "${env:NEW_RELIC_LICENSE_KEY}"}`, ""),
		"escaped":           verbatim(`    headers: {x: "$${file:/etc/shadow}"}`, ""),
		"plain":             verbatim("", ""),
	}
	for name, config := range allowed {
		_, err := s.FromRequest(ctx, "a1", apitypes.AssignRequest{Config: config}, Grants{})
		assert.NoError(t, err, name)
	}
	_, err := s.FromRequest(ctx, "a1", apitypes.AssignRequest{Pipeline: "baseline",
		Parameters: map[string]any{"destination": "newrelic"}}, Grants{})
	assert.NoError(t, err, "catalog pipelines need no grant")
}

func TestValidateReportsHostAccess(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t)
	checked, err := s.Validate(t.Context(), verbatim(`    headers: {a: "${env:NEW_RELIC_LICENSE_KEY}", b: "${env:OTHER}"}`, ""))
	require.NoError(t, err)
	assert.NotEmpty(t, checked.Hash)
	assert.Equal(t, []hostaccess.Access{{Path: "exporters::otlp_http::headers::b", Kind: hostaccess.KindEnv, Name: "OTHER", Ref: "${env:OTHER}"}},
		checked.HostAccess)
}
