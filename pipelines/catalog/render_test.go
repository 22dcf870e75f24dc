package catalog

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"

	"github.com/phoenix/platform/pipelines/distribution"
)

func TestEveryPipelineRendersWithDefaults(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	for _, p := range c.List() {
		t.Run(p.Name, func(t *testing.T) {
			t.Parallel()
			r, err := c.Render(t.Context(), p.Name, nil)
			require.NoError(t, err)
			assert.Equal(t, p.Name, r.Pipeline)
			assert.Equal(t, p.Version, r.Version)

			cfg := parse(t, r.Config)
			assert.Equal(t, []string{"host_metrics/process", "host_metrics/system"}, cfg.keysAt("receivers"))
			assert.Equal(t, []string{"metrics/process", "metrics/system"}, cfg.keysAt("service", "pipelines"))
			want := append(append([]string{"memory_limiter", "resource_detection"}, p.Processors...), "batch", "cost_meter")
			assert.Equal(t, want, cfg.strings("service", "pipelines", "metrics/process", "processors"))
			assert.Equal(t, []string{"host_metrics/process"}, cfg.strings("service", "pipelines", "metrics/process", "receivers"))
			assert.Equal(t, []string{"memory_limiter", "resource_detection", "batch"}, cfg.strings("service", "pipelines", "metrics/system", "processors"))
			assert.Equal(t, p.Name, cfg.at("processors", "cost_meter", "variant"))
			assert.Equal(t, []string{"health_check"}, cfg.strings("service", "extensions"))
			assert.Nil(t, cfg.at("service", "telemetry"), "own telemetry is left alone without an endpoint")
			assert.Equal(t, true, cfg.at("receivers", "host_metrics/process", "scrapers", "process", "mute_process_exe_error"))
		})
	}
}

func TestSystemMetricsCanBeTurnedOff(t *testing.T) {
	t.Parallel()
	r, err := shipped(t).Render(t.Context(), "topk", map[string]any{"system_metrics": false, "collection_interval": "15s"})
	require.NoError(t, err)
	cfg := parse(t, r.Config)
	assert.Equal(t, []string{"host_metrics/process"}, cfg.keysAt("receivers"))
	assert.Equal(t, []string{"metrics/process"}, cfg.keysAt("service", "pipelines"))
	assert.Equal(t, "15s", cfg.at("receivers", "host_metrics/process", "collection_interval"))
}

func TestDestinations(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	tests := []struct {
		name      string
		params    map[string]any
		exporters map[string]any
	}{
		{"none", nil, map[string]any{"nop": map[string]any{}}},
		{
			"otlp_grpc",
			map[string]any{"destination": "otlp_grpc", "otlp_endpoint": "collector.internal:4317", "otlp_insecure": true},
			map[string]any{"otlp_grpc": map[string]any{"endpoint": "collector.internal:4317", "tls": map[string]any{"insecure": true}}},
		},
		{
			"otlp_http with headers",
			map[string]any{
				"destination": "otlp_http", "otlp_endpoint": "https://otlp.example.com:4318",
				"otlp_headers": map[string]any{"x-scope-orgid": "tenant-1"}, "otlp_env_headers": map[string]any{"authorization": "OTLP_AUTH"},
			},
			map[string]any{"otlp_http": map[string]any{
				"endpoint": "https://otlp.example.com:4318",
				"headers":  map[string]any{"x-scope-orgid": "tenant-1", "authorization": "${env:OTLP_AUTH}"},
			}},
		},
		{
			"newrelic over http (default)",
			map[string]any{"destination": "newrelic"},
			map[string]any{"otlp_http/newrelic": map[string]any{
				"endpoint": "https://otlp.nr-data.net:4318",
				"headers":  map[string]any{"api-key": "${env:NEW_RELIC_LICENSE_KEY}"},
			}},
		},
		{
			"newrelic over grpc in the EU with another variable",
			map[string]any{"destination": "newrelic", "newrelic_protocol": "grpc", "newrelic_region": "eu", "newrelic_license_key_env": "NR_KEY"},
			map[string]any{"otlp_grpc/newrelic": map[string]any{
				"endpoint": "https://otlp.eu01.nr-data.net:4317",
				"headers":  map[string]any{"api-key": "${env:NR_KEY}"},
			}},
		},
		{
			"prometheus",
			map[string]any{"destination": "prometheus", "prometheus_endpoint": "0.0.0.0:9464"},
			map[string]any{"prometheus": map[string]any{
				"endpoint":                         "0.0.0.0:9464",
				"resource_to_telemetry_conversion": map[string]any{"enabled": true},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := c.Render(t.Context(), "topk-rollup", tt.params)
			require.NoError(t, err)
			cfg := parse(t, r.Config)
			assert.Equal(t, tt.exporters, cfg.at("exporters"))
			ids := slices.Sorted(maps.Keys(tt.exporters))
			assert.Equal(t, ids, cfg.strings("service", "pipelines", "metrics/process", "exporters"))
			assert.Equal(t, ids, cfg.strings("service", "pipelines", "metrics/system", "exporters"))
		})
	}
}

func TestOwnTelemetry(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	r, err := c.Render(t.Context(), "baseline", map[string]any{
		"telemetry_endpoint":  "http://127.0.0.1:8080/v1/metrics",
		"telemetry_interval":  "15s",
		"telemetry_token_env": "PHOENIX_AGENT_TOKEN",
		"instance_id":         "0190f0c2-7e4d-7b5a-9c1e-2f0a5b6c7d8e",
	})
	require.NoError(t, err)
	cfg := parse(t, r.Config)
	assert.Equal(t, map[string]any{
		"metrics": map[string]any{"readers": []any{map[string]any{"periodic": map[string]any{
			"interval": 15000,
			"exporter": map[string]any{"otlp": map[string]any{
				"protocol": "http/protobuf",
				"endpoint": "http://127.0.0.1:8080/v1/metrics",
				"headers":  []any{map[string]any{"name": "Authorization", "value": "Bearer ${env:PHOENIX_AGENT_TOKEN}"}},
			}},
		}}}},
		"resource": map[string]any{"attributes": []any{
			map[string]any{"name": "service.instance.id", "value": "0190f0c2-7e4d-7b5a-9c1e-2f0a5b6c7d8e"},
		}},
	}, cfg.at("service", "telemetry"))

	r, err = c.Render(t.Context(), "baseline", map[string]any{"telemetry_endpoint": "https://cp.example.com/v1/metrics"})
	require.NoError(t, err)
	cfg = parse(t, r.Config)
	assert.Equal(t, []string{"metrics"}, cfg.keysAt("service", "telemetry"), "no instance_id, no resource")
	otlp := []string{"service", "telemetry", "metrics", "readers", "0", "periodic", "exporter", "otlp"}
	assert.Equal(t, "https://cp.example.com/v1/metrics", cfg.at(append(otlp, "endpoint")...))
	assert.Nil(t, cfg.at(append(otlp, "headers")...), "no token, no Authorization header")
}

// TestStringsStayScalars renders hostile strings where parameters allow
// them and checks that the collector, after its own ${...} expansion, reads
// back exactly the value given, in the key it was given for.
func TestStringsStayScalars(t *testing.T) {
	t.Parallel()
	hostile := "x\"\n  injected: true\n'quote' #comment: {a: b} [c] & *d ! | > % @ ${env:HOME} $${env:HOME} $$ $"
	header := `v: "q" 'q' #c {a} [b] ${env:HOME} $`
	r, err := shipped(t).Render(t.Context(), "topk-rollup", map[string]any{
		"critical_rules": []any{map[string]any{"name": hostile, "command_line": hostile}},
		"destination":    "otlp_http",
		"otlp_endpoint":  "https://a.example.com/${env:HOME}",
		"otlp_headers":   map[string]any{"x-h": header},
	})
	require.NoError(t, err)

	resolver, err := confmap.NewResolver(confmap.ResolverSettings{
		URIs:              []string{"yaml:" + string(r.Config)},
		ProviderFactories: []confmap.ProviderFactory{yamlprovider.NewFactory(), envprovider.NewFactory()},
		DefaultScheme:     "env",
	})
	require.NoError(t, err)
	conf, err := resolver.Resolve(t.Context())
	require.NoError(t, err)
	resolved := parsed(conf.ToStringMap())

	for _, proc := range []string{"process_critical", "cost_meter"} {
		key := map[string]string{"process_critical": "rules", "cost_meter": "critical"}[proc]
		rules, ok := resolved.at("processors", proc, key).([]any)
		require.True(t, ok, proc)
		require.Len(t, rules, 1)
		assert.Equal(t, map[string]any{"name": hostile, "command_line": hostile}, rules[0], proc)
	}
	assert.Equal(t, map[string]any{
		"endpoint": "https://a.example.com/${env:HOME}",
		"headers":  map[string]any{"x-h": header},
	}, resolved.at("exporters", "otlp_http"))
	assert.NotContains(t, resolved.keysAt("processors", "process_critical"), "injected")
}

func TestHashIsStable(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	a, err := c.Render(t.Context(), "topk-rollup", map[string]any{"k": 20, "collection_interval": "60s", "rank_by": []string{"memory"}})
	require.NoError(t, err)
	b, err := c.Render(t.Context(), "topk-rollup", map[string]any{"rank_by": []any{"memory"}, "collection_interval": time.Minute, "k": 20.0})
	require.NoError(t, err)
	assert.Equal(t, a.Hash, b.Hash, "equal values in other forms render equally")
	assert.Equal(t, a.Config, b.Config)
	sum := sha256.Sum256(a.Config)
	assert.Equal(t, hex.EncodeToString(sum[:]), a.Hash)

	again, err := c.Render(t.Context(), "topk-rollup", a.Params)
	require.NoError(t, err)
	assert.Equal(t, a.Hash, again.Hash, "rendering the reported params gives the same configuration")

	other, err := c.Render(t.Context(), "topk-rollup", map[string]any{"k": 21, "collection_interval": "60s", "rank_by": []string{"memory"}})
	require.NoError(t, err)
	assert.NotEqual(t, a.Hash, other.Hash)
}

func TestRenderRefusesWhatTheDistributionRefuses(t *testing.T) {
	t.Parallel()
	// The endpoint passes the parameter's pattern; the exporter refuses it.
	_, err := shipped(t).Render(t.Context(), "topk", map[string]any{"destination": "otlp_grpc", "otlp_endpoint": "http://"})
	require.Error(t, err)
	ice, ok := distribution.AsInvalid(err)
	require.True(t, ok, "want the distribution's problems, got %v", err)
	assert.Equal(t, []distribution.Problem{{Path: "exporters::otlp_grpc", Message: `requires a non-empty "endpoint"`}}, ice.Problems)
	assert.True(t, strings.HasPrefix(err.Error(), `pipeline "topk" 1.0.0: rendered configuration is invalid: `), err.Error())
	_, isParams := AsInvalidParams(err)
	assert.False(t, isParams)
}

func TestRenderUnknownPipeline(t *testing.T) {
	t.Parallel()
	_, err := shipped(t).Render(t.Context(), "everything", nil)
	assert.True(t, errors.Is(err, ErrUnknownPipeline))
}
