package catalog

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The pull reader stands alone or beside the push, and is off by default.
func TestTelemetryPrometheusEndpoint(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	pull := map[string]any{"pull": map[string]any{"exporter": map[string]any{"prometheus": map[string]any{
		"host": "0.0.0.0", "port": 8888,
		"without_units": true, "without_type_suffix": true, "without_scope_info": true,
		"with_resource_constant_labels": map[string]any{"included": []any{"service.instance.id"}},
	}}}}

	r, err := c.Render(t.Context(), "topk", map[string]any{"telemetry_prometheus_endpoint": "0.0.0.0:8888"})
	require.NoError(t, err)
	assert.Equal(t, []any{pull}, parse(t, r.Config).at("service", "telemetry", "metrics", "readers"), "the pull reader alone")

	r, err = c.Render(t.Context(), "topk", map[string]any{
		"telemetry_prometheus_endpoint": "[::1]:9999",
		"telemetry_endpoint":            "http://127.0.0.1:8080/v1/metrics",
	})
	require.NoError(t, err)
	cfg := parse(t, r.Config)
	readers, _ := cfg.at("service", "telemetry", "metrics", "readers").([]any)
	require.Len(t, readers, 2, "push, then pull")
	assert.NotNil(t, cfg.at("service", "telemetry", "metrics", "readers", "0", "periodic"))
	assert.Equal(t, "::1", cfg.at("service", "telemetry", "metrics", "readers", "1", "pull", "exporter", "prometheus", "host"))
	assert.Equal(t, 9999, cfg.at("service", "telemetry", "metrics", "readers", "1", "pull", "exporter", "prometheus", "port"))

	r, err = c.Render(t.Context(), "topk", nil)
	require.NoError(t, err)
	assert.Nil(t, parse(t, r.Config).at("service", "telemetry"), "off by default")
}

// root_path reaches both host_metrics receivers, or neither.
func TestRootPath(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	r, err := c.Render(t.Context(), "baseline", map[string]any{"root_path": "/hostfs"})
	require.NoError(t, err, "validation does not need /hostfs on this machine")
	cfg := parse(t, r.Config)
	for _, id := range []string{"host_metrics/process", "host_metrics/system"} {
		assert.Equal(t, "/hostfs", cfg.at("receivers", id, "root_path"), id)
	}

	r, err = c.Render(t.Context(), "baseline", map[string]any{"root_path": "/hostfs", "system_metrics": false})
	require.NoError(t, err)
	cfg = parse(t, r.Config)
	assert.Equal(t, "/hostfs", cfg.at("receivers", "host_metrics/process", "root_path"))
	assert.Nil(t, cfg.at("receivers", "host_metrics/system"))

	r, err = c.Render(t.Context(), "baseline", nil)
	require.NoError(t, err)
	assert.Nil(t, parse(t, r.Config).at("receivers", "host_metrics/process", "root_path"), "a VM reads its own root")
}

func TestHostParametersRefuseBadValues(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	for name, params := range map[string]map[string]any{
		"root_path":                     {"root_path": "hostfs"},
		"telemetry_prometheus_endpoint": {"telemetry_prometheus_endpoint": "8888"},
	} {
		_, err := c.Render(t.Context(), "baseline", params)
		var ipe *InvalidParamsError
		require.True(t, errors.As(err, &ipe), "%s: %v", name, err)
		require.Len(t, ipe.Problems, 1)
		assert.Equal(t, name, ipe.Problems[0].Param, "%v", err)
	}
}
