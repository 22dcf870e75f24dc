package catalog

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/pipelines/distribution"
)

func TestRenderPairedComposesOneConfiguration(t *testing.T) {
	t.Parallel()
	p, err := shipped(t).RenderPaired(t.Context(), PairedSpec{
		Baseline:  Ref{Pipeline: "topk"},
		Candidate: Ref{Pipeline: "topk-rollup", Params: map[string]any{"k": 5.0, "group_by": []any{"process.owner"}}},
		Shared:    map[string]any{"destination": "newrelic", "collection_interval": "20s"},
	})
	require.NoError(t, err)
	cfg := parse(t, p.Config)

	assert.Equal(t, []string{"host_metrics/process", "host_metrics/system"}, cfg.keysAt("receivers"), "one process scrape feeds both arms")
	assert.Equal(t, []string{
		"batch", "cost_meter/baseline", "cost_meter/candidate", "memory_limiter",
		"process_critical/baseline", "process_critical/candidate", "process_rollup/candidate",
		"process_topk/baseline", "process_topk/candidate", "resource_detection",
	}, cfg.keysAt("processors"))
	assert.Equal(t, []string{"nop", "otlp_http/newrelic"}, cfg.keysAt("exporters"))
	assert.Equal(t, []string{"metrics/baseline", "metrics/candidate", "metrics/system"}, cfg.keysAt("service", "pipelines"))

	pipelines := []string{"service", "pipelines"}
	arm := func(name, key string) []string { return cfg.strings(append(pipelines, name, key)...) }
	assert.Equal(t, []string{"host_metrics/process"}, arm("metrics/baseline", "receivers"))
	assert.Equal(t, []string{"host_metrics/process"}, arm("metrics/candidate", "receivers"))
	assert.Equal(t, []string{"memory_limiter", "resource_detection", "process_critical/baseline", "process_topk/baseline", "batch", "cost_meter/baseline"}, arm("metrics/baseline", "processors"))
	assert.Equal(t, []string{"memory_limiter", "resource_detection", "process_critical/candidate", "process_topk/candidate", "process_rollup/candidate", "batch", "cost_meter/candidate"}, arm("metrics/candidate", "processors"))
	assert.Equal(t, []string{"otlp_http/newrelic"}, arm("metrics/baseline", "exporters"))
	assert.Equal(t, []string{"nop"}, arm("metrics/candidate", "exporters"), "the candidate is a shadow")
	assert.Equal(t, []string{"otlp_http/newrelic"}, arm("metrics/system", "exporters"))

	assert.Equal(t, "baseline", cfg.at("processors", "cost_meter/baseline", "variant"))
	assert.Equal(t, "candidate", cfg.at("processors", "cost_meter/candidate", "variant"))
	assert.Equal(t, 10, cfg.at("processors", "process_topk/baseline", "k"))
	assert.Equal(t, "drop", cfg.at("processors", "process_topk/baseline", "others"))
	assert.Equal(t, 5, cfg.at("processors", "process_topk/candidate", "k"))
	assert.Equal(t, "rollup", cfg.at("processors", "process_topk/candidate", "others"))
	assert.Equal(t, []any{"process.owner"}, cfg.at("processors", "process_rollup/candidate", "group_by"))
	assert.Equal(t, "20s", cfg.at("receivers", "host_metrics/process", "collection_interval"))

	assert.Equal(t, Arm{Variant: "baseline", Pipeline: "topk", Version: "1.0.0", Params: map[string]any{
		"variant": "baseline", "k": 10, "rank_by": []string{"cpu", "memory"}, "exit_after": 3, "max_series": 0, "max_k": 100,
	}}, p.Baseline)
	assert.Equal(t, "candidate", p.Candidate.Params["variant"])
	assert.Equal(t, []string{"process.owner"}, p.Candidate.Params["group_by"])
	assert.Equal(t, "newrelic", p.Shared["destination"])
	assert.NotContains(t, p.Shared, "k")
	assert.Len(t, p.Hash, 64)
}

func TestRenderPairedCandidateCanExport(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	spec := PairedSpec{
		Baseline:         Ref{Pipeline: "baseline"},
		Candidate:        Ref{Pipeline: "critical-only"},
		Shared:           map[string]any{"destination": "prometheus", "system_metrics": false},
		CandidateExports: true,
	}
	p, err := c.RenderPaired(t.Context(), spec)
	require.NoError(t, err)
	cfg := parse(t, p.Config)
	assert.Equal(t, []string{"prometheus"}, cfg.keysAt("exporters"), "no nop without a shadow")
	assert.Equal(t, []string{"prometheus"}, cfg.strings("service", "pipelines", "metrics/candidate", "exporters"))
	assert.Equal(t, []string{"metrics/baseline", "metrics/candidate"}, cfg.keysAt("service", "pipelines"))
	assert.Equal(t, []string{"memory_limiter", "resource_detection", "batch", "cost_meter/baseline"},
		cfg.strings("service", "pipelines", "metrics/baseline", "processors"))
	assert.Equal(t, []string{"memory_limiter", "resource_detection", "process_critical/candidate", "filter/non_critical/candidate", "transform/strip_markers/candidate", "batch", "cost_meter/candidate"},
		cfg.strings("service", "pipelines", "metrics/candidate", "processors"))

	again, err := c.RenderPaired(t.Context(), spec)
	require.NoError(t, err)
	assert.Equal(t, p.Hash, again.Hash)
	spec.CandidateExports = false
	shadow, err := c.RenderPaired(t.Context(), spec)
	require.NoError(t, err)
	assert.NotEqual(t, p.Hash, shadow.Hash)
}

func TestRenderPairedSameShadowExporterWithoutDestination(t *testing.T) {
	t.Parallel()
	p, err := shipped(t).RenderPaired(t.Context(), PairedSpec{
		Baseline:  Ref{Pipeline: "topk", Params: map[string]any{"k": 10}},
		Candidate: Ref{Pipeline: "topk", Params: map[string]any{"k": 20}},
	})
	require.NoError(t, err)
	cfg := parse(t, p.Config)
	assert.Equal(t, []string{"nop"}, cfg.keysAt("exporters"))
	assert.Equal(t, 10, cfg.at("processors", "process_topk/baseline", "k"))
	assert.Equal(t, 20, cfg.at("processors", "process_topk/candidate", "k"))
}

func TestRenderPairedRoutesParameters(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	tests := []struct {
		name string
		spec PairedSpec
		want string
	}{
		{
			"collector parameter in an arm",
			PairedSpec{Baseline: Ref{Pipeline: "topk", Params: map[string]any{"destination": "newrelic"}}, Candidate: Ref{Pipeline: "topk"}},
			`baseline: parameter "destination": a collector parameter: set it in the shared params`,
		},
		{
			"variant parameter in shared",
			PairedSpec{Baseline: Ref{Pipeline: "topk"}, Candidate: Ref{Pipeline: "topk"}, Shared: map[string]any{"k": 3}},
			`parameter "k": a variant parameter: set it in the baseline or candidate params`,
		},
		{
			"variant in shared",
			PairedSpec{Baseline: Ref{Pipeline: "topk"}, Candidate: Ref{Pipeline: "topk"}, Shared: map[string]any{"variant": "x"}},
			`parameter "variant": set by the paired configuration to "baseline" and "candidate"`,
		},
		{
			"variant in an arm",
			PairedSpec{Baseline: Ref{Pipeline: "topk"}, Candidate: Ref{Pipeline: "topk", Params: map[string]any{"variant": "b"}}},
			`candidate: parameter "variant": set by the paired configuration to "candidate"`,
		},
		{
			"parameter of another pipeline",
			PairedSpec{Baseline: Ref{Pipeline: "baseline", Params: map[string]any{"k": 3}}, Candidate: Ref{Pipeline: "topk"}},
			`baseline: parameter "k": unknown parameter of pipeline "baseline"`,
		},
		{
			"every problem of every set",
			PairedSpec{
				Baseline:  Ref{Pipeline: "topk", Params: map[string]any{"k": 0}},
				Candidate: Ref{Pipeline: "topk-rollup", Params: map[string]any{"group_by": "x"}},
				Shared:    map[string]any{"destination": "otlp_grpc"},
			},
			`parameter "otlp_endpoint": required when destination is "otlp_grpc"; baseline: parameter "k": must be between 1 and 1000, got 0; candidate: parameter "group_by": must be a list of strings, got string "x"`,
		},
		{"unknown baseline", PairedSpec{Baseline: Ref{Pipeline: "x"}, Candidate: Ref{Pipeline: "topk"}}, `baseline: unknown pipeline "x" (known: baseline, critical-only, topk, topk-rollup)`},
		{"unknown candidate", PairedSpec{Baseline: Ref{Pipeline: "topk"}, Candidate: Ref{Pipeline: "y"}}, `candidate: unknown pipeline "y" (known: baseline, critical-only, topk, topk-rollup)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.RenderPaired(t.Context(), tt.spec)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
		})
	}

	_, err := c.RenderPaired(t.Context(), tests[0].spec)
	ipe, ok := AsInvalidParams(err)
	require.True(t, ok)
	assert.Equal(t, []ParamError{{Arm: "baseline", Param: "destination", Message: "a collector parameter: set it in the shared params"}}, ipe.Problems)
}

func TestRenderPairedReportsInvalidConfigurations(t *testing.T) {
	t.Parallel()
	_, err := shipped(t).RenderPaired(t.Context(), PairedSpec{
		Baseline:  Ref{Pipeline: "topk"},
		Candidate: Ref{Pipeline: "topk", Params: map[string]any{"k": 500, "max_series": 1000}},
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "paired topk 1.0.0 / topk 1.0.0: rendered configuration is invalid: ")
	ice, ok := distribution.AsInvalid(err)
	require.True(t, ok, "want the distribution's problems, got %v", err)
	require.Len(t, ice.Problems, 1)
	assert.Equal(t, "processors::process_topk/candidate", ice.Problems[0].Path)
	assert.Contains(t, ice.Problems[0].Message, "max_series set, min_k, k and max_k must satisfy")
}
