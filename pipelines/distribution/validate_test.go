package distribution

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const validConfig = `
receivers:
  host_metrics:
    scrapers:
      process: {}
processors:
  process_critical: {}
exporters:
  nop: {}
service:
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_critical]
      exporters: [nop]
`

func TestValidateYAMLAcceptsValidConfig(t *testing.T) {
	require.NoError(t, ValidateYAML(t.Context(), []byte(validConfig)))
}

func TestValidateFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte(validConfig), 0o600))
	assert.NoError(t, ValidateFile(t.Context(), good))

	err := ValidateFile(t.Context(), filepath.Join(dir, "missing.yaml"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing.yaml")
}

func TestValidateReportsEachProblemWithItsPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		config string
		want   []Problem
	}{
		{
			name: "unknown key inside a component",
			config: `
receivers: {host_metrics: {scrapers: {process: {}}}}
processors: {process_critical: {rules: [{name: a, owner: root, colour: red}]}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [host_metrics], processors: [process_critical], exporters: [nop]}}}`,
			want: []Problem{{Path: "processors::process_critical::rules::0", Message: "has invalid keys: colour"}},
		},
		{
			name: "component validation errors and a dangling pipeline reference",
			config: `
receivers: {host_metrics: {scrapers: {process: {}}}}
processors: {process_critical: {process_ttl: 0s, rules: [{name: db, executable_name: "("}]}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [host_metrics], processors: [batch], exporters: [nop]}}}`,
			want: []Problem{
				{Path: "service::pipelines::metrics", Message: `references processor "batch" which is not configured`},
				{Path: "processors::process_critical", Message: "process_ttl must be positive"},
				{Path: "processors::process_critical::rules::0", Message: "executable_name: invalid regular expression \"(\": error parsing regexp: missing closing ): `(`"},
			},
		},
		{
			name: "unknown component type",
			config: `
receivers: {nope: {}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [nope], exporters: [nop]}}}`,
			// The collector lists the valid types in map order; compared without it.
			want: []Problem{{Path: "receivers::nope", Message: `unknown type: "nope" for id: "nope"`}},
		},
		{
			name: "unknown top-level service key",
			config: `
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [otlp], exporters: [nop]}}, colour: red}`,
			want: []Problem{{Path: "service", Message: "has invalid keys: colour"}},
		},
		{
			name: "unknown top-level key",
			config: `
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {nop: {}}
colour: red
service: {pipelines: {metrics: {receivers: [otlp], exporters: [nop]}}}`,
			want: []Problem{{Message: "has invalid keys: colour"}},
		},
		{
			name: "missing exporter endpoint",
			config: `
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {otlp_grpc: {}}
service: {pipelines: {metrics: {receivers: [otlp], exporters: [otlp_grpc]}}}`,
			want: []Problem{{Path: "exporters::otlp_grpc", Message: `requires a non-empty "endpoint"`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateYAML(t.Context(), []byte(tt.config))
			require.Error(t, err)
			invalid, ok := AsInvalid(err)
			require.True(t, ok, "want InvalidConfigError, got %T: %v", err, err)
			got := make([]Problem, len(invalid.Problems))
			for i, p := range invalid.Problems {
				p.Message, _, _ = strings.Cut(p.Message, " (valid values: ")
				got[i] = p
			}
			assert.ElementsMatch(t, tt.want, got)
		})
	}
}

func TestValidateRejectsEmptyAndMalformedYAML(t *testing.T) {
	err := ValidateYAML(t.Context(), []byte("  \n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "configuration is empty")

	err = ValidateYAML(t.Context(), []byte("receivers: ["))
	invalid, ok := AsInvalid(err)
	require.True(t, ok)
	require.Len(t, invalid.Problems, 1)
	assert.Contains(t, invalid.Problems[0].Message, "yaml")
}

func TestComponentsCoverTheDistribution(t *testing.T) {
	f, err := Components()
	require.NoError(t, err)
	has := func(kind string, got map[string]bool, want ...string) {
		for _, w := range want {
			assert.True(t, got[w], "%s %q missing from the distribution", kind, w)
		}
	}
	recv, proc, exp, ext := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for k := range f.Receivers {
		recv[k.String()] = true
	}
	for k := range f.Processors {
		proc[k.String()] = true
	}
	for k := range f.Exporters {
		exp[k.String()] = true
	}
	for k := range f.Extensions {
		ext[k.String()] = true
	}
	has("receiver", recv, "host_metrics", "otlp", "process_sim", "nop")
	has("processor", proc, "memory_limiter", "batch", "resource_detection", "filter", "transform",
		"process_critical", "process_topk", "process_rollup", "cost_meter")
	has("exporter", exp, "otlp_grpc", "otlp_http", "prometheus", "debug", "file", "nop")
	has("extension", ext, "opamp", "health_check", "file_storage", "processz")
}
