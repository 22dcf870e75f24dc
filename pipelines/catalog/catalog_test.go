package catalog

import (
	"encoding/json"
	"io/fs"
	"maps"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/pipelines/distribution"
	"github.com/phoenix/platform/processors/processcritical"
)

func TestShippedCatalog(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	list := c.List()
	var names []string
	chains := map[string][]string{}
	var recommended []string
	for _, p := range list {
		names = append(names, p.Name)
		chains[p.Name] = p.Processors
		if p.Recommended {
			recommended = append(recommended, p.Name)
		}
		assert.Regexp(t, versionPattern, p.Version)
		assert.NotEmpty(t, p.Title)
		assert.NotEmpty(t, p.Description)
		for _, spec := range p.Params {
			assert.NotEmpty(t, spec.Description, "%s: %s", p.Name, spec.Name)
			assert.Contains(t, []Scope{ScopeCollector, ScopeVariant}, spec.Scope)
		}
	}
	assert.Equal(t, []string{"baseline", "critical-only", "topk", "topk-rollup"}, names)
	assert.Equal(t, []string{"topk-rollup"}, recommended)
	assert.Equal(t, map[string][]string{
		"baseline":      {},
		"critical-only": {"process_critical", "filter/non_critical", "transform/strip_markers"},
		"topk":          {"process_critical", "process_topk"},
		"topk-rollup":   {"process_critical", "process_topk", "process_rollup"},
	}, chains)

	again, err := Load(distribution.ValidateYAML)
	require.NoError(t, err)
	assert.Same(t, c.frame, again.frame, "the embedded catalog is parsed once")

	_, err = Load(nil)
	assert.ErrorContains(t, err, "a validator is required", "nothing renders unvalidated")
}

func TestPipelinesServeAsJSON(t *testing.T) {
	t.Parallel()
	p, err := shipped(t).Get("topk-rollup")
	require.NoError(t, err)
	data, err := json.Marshal(p)
	require.NoError(t, err)

	var decoded struct {
		Name       string `json:"name"`
		Parameters []struct {
			Name         string              `json:"name"`
			Type         string              `json:"type"`
			Default      any                 `json:"default"`
			Min          any                 `json:"min"`
			RequiredWhen map[string][]string `json:"required_when"`
			Scope        string              `json:"scope"`
		} `json:"parameters"`
	}
	require.NoError(t, json.Unmarshal(data, &decoded))
	byName := map[string]int{}
	for i, prm := range decoded.Parameters {
		byName[prm.Name] = i
	}
	k := decoded.Parameters[byName["k"]]
	assert.Equal(t, "int", k.Type)
	assert.InDelta(t, 10, k.Default, 0)
	assert.InDelta(t, 1, k.Min, 0)
	assert.Equal(t, "variant", k.Scope)
	interval := decoded.Parameters[byName["collection_interval"]]
	assert.Equal(t, "30s", interval.Default)
	assert.Equal(t, "1s", interval.Min)
	assert.Equal(t, "collector", interval.Scope)
	endpoint := decoded.Parameters[byName["otlp_endpoint"]]
	assert.Equal(t, map[string][]string{"destination": {"otlp_grpc", "otlp_http"}}, endpoint.RequiredWhen)
	rules := decoded.Parameters[byName["critical_rules"]]
	assert.Contains(t, rules.Default, map[string]any{"name": "databases", "executable_name": "postgres|postmaster|mysqld|mariadbd|mongod|redis-server|valkey-server|etcd|clickhouse-server|memcached"})
}

func TestDefaultCriticalRulesAreProcessCriticals(t *testing.T) {
	t.Parallel()
	for _, p := range shipped(t).List() {
		for _, spec := range p.Params {
			if spec.Name == "critical_rules" {
				assert.Equal(t, fromCriticalRules(processcritical.DefaultRules()), spec.Default, p.Name)
			}
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	_, err := c.Get("top-k")
	require.ErrorIs(t, err, ErrUnknownPipeline)
	assert.EqualError(t, err, `unknown pipeline "top-k" (known: baseline, critical-only, topk, topk-rollup)`)

	p, err := c.Get("topk")
	require.NoError(t, err)
	p.Processors[0] = "changed"
	for i := range p.Params {
		if list, ok := p.Params[i].Default.([]string); ok {
			list[0] = "changed"
		}
		p.Params[i].Default = "changed"
	}
	again, err := c.Get("topk")
	require.NoError(t, err)
	assert.Equal(t, "process_critical", again.Processors[0])
	r, err := c.Render(t.Context(), "topk", nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"cpu", "memory"}, r.Params["rank_by"], "callers cannot change the catalog")
}

const minimalParams = `
  - {name: variant, type: string, scope: variant, default: x, description: d}
  - {name: destination, type: enum, enum: [none, otlp_grpc], default: none, description: d}
  - {name: otlp_endpoint, type: string, default: "", required_when: {destination: [otlp_grpc]}, description: d}
`

// minimalCollector is a valid shared/collector.yaml with the given parameters.
func minimalCollector(params string) string {
	return "parameters:" + params + `
receivers:
  process: {id: host_metrics/process, config: "scrapers: {process: {}}"}
  system: {id: host_metrics/system, config: ""}
processors:
  before: {}
  after: {batch: "{}"}
  meter: {id: cost_meter, config: "variant: {{ .variant }}"}
exporters: "nop: {}"
extensions: {}
telemetry: ""
`
}

// minimalCatalog is a valid catalog to break one file at a time.
func minimalCatalog() fstest.MapFS {
	return fstest.MapFS{
		"shared/collector.yaml": {Data: []byte(minimalCollector(minimalParams))},
		"shared/components.yaml": {Data: []byte(`
process_topk:
  parameters:
    - {name: k, type: int, default: 1, description: d}
  config: "k: {{ .k }}"
`)},
		"one.yaml": {Data: []byte(`
name: one
version: 1.0.0
title: One
description: d
processors: [{use: process_topk}]
`)},
	}
}

func TestLoadRefusesBrokenCatalogs(t *testing.T) {
	t.Parallel()
	_, err := load(minimalCatalog())
	require.NoError(t, err, "the minimal catalog loads")

	tests := []struct {
		name string
		file string
		data string
		want string
	}{
		{"name differs from the file", "one.yaml", "name: two\nversion: 1.0.0\ntitle: t\ndescription: d\n", `name "two" must match the file name`},
		{"bad version", "one.yaml", "name: one\nversion: v1\ntitle: t\ndescription: d\n", `version "v1" must be MAJOR.MINOR.PATCH`},
		{"no description", "one.yaml", "name: one\nversion: 1.0.0\ntitle: t\n", "title and description are required"},
		{"unknown key", "one.yaml", "name: one\ncolour: red\n", "field colour not found"},
		{"unknown component", "one.yaml", "name: one\nversion: 1.0.0\ntitle: t\ndescription: d\nprocessors: [{use: nope}]\n", `unknown component "nope"`},
		{"component used twice", "one.yaml", "name: one\nversion: 1.0.0\ntitle: t\ndescription: d\nprocessors: [{use: process_topk}, {use: process_topk}]\n", `"process_topk" used twice`},
		{"default for an unknown parameter", "one.yaml", "name: one\nversion: 1.0.0\ntitle: t\ndescription: d\ndefaults: {kk: 1}\n", `defaults: unknown parameter "kk"`},
		{"invalid default override", "one.yaml", "name: one\nversion: 1.0.0\ntitle: t\ndescription: d\ndefaults: {destination: x}\n", `parameter "destination": default: must be one of`},
		{"with shadows a parameter", "one.yaml", "name: one\nversion: 1.0.0\ntitle: t\ndescription: d\nprocessors: [{use: process_topk, with: {variant: x}}]\n", `with: "variant" is a parameter`},
		{"parameter defined twice", "shared/components.yaml", "process_topk:\n  parameters: [{name: variant, type: string, default: x, description: d}]\n  config: '{}'\n", `parameter "variant" defined twice`},
		{"bad component parameter", "shared/components.yaml", "process_topk:\n  parameters: [{name: k, type: int, description: d}]\n  config: '{}'\n", "an optional parameter needs a default"},
		{"bad template", "shared/components.yaml", "process_topk:\n  config: '{{ .k '\n", "template process_topk"},
		{"unknown scope", "shared/collector.yaml", minimalCollector("\n  - {name: a, type: bool, default: true, scope: global, description: d}"), `unknown scope "global"`},
		{"bad shared parameter", "shared/collector.yaml", minimalCollector("\n  - {name: a, type: bool, description: d}"), `parameter "a": an optional parameter needs a default`},
		{"component without id", "shared/collector.yaml", "receivers: {process: {config: '{}'}}\n", "a component has no id"},
		{"ordered configs not a mapping", "shared/collector.yaml", "extensions: [a]\n", "want a mapping of component IDs to templates"},
		{"required_when on a non-enum", "shared/collector.yaml", minimalCollector(`
  - {name: variant, type: string, scope: variant, default: x, description: d}
  - {name: a, type: string, default: "", required_when: {variant: [x]}, description: d}
`), `required_when: "variant" is not an enum parameter of the same scope`},
		{"required_when on an impossible value", "shared/collector.yaml", minimalCollector(`
  - {name: e, type: enum, enum: [x], default: x, description: d}
  - {name: a, type: string, default: "", required_when: {e: [y]}, description: d}
`), `required_when: "y" is not a value of "e"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := maps.Clone(minimalCatalog())
			fsys[tt.file] = &fstest.MapFile{Data: []byte(tt.data)}
			_, err := load(fsys)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}

	empty := fstest.MapFS{"shared/collector.yaml": minimalCatalog()["shared/collector.yaml"], "shared/components.yaml": {Data: []byte("{}")}}
	_, err = load(empty)
	assert.EqualError(t, err, "no pipelines")
	_, err = load(fstest.MapFS{})
	assert.ErrorIs(t, err, fs.ErrNotExist)
}

// TestAgentsSetOnlyFactsOfTheirHost: no parameter an agent's label may set
// says where data goes or holds a credential.
func TestAgentsSetOnlyFactsOfTheirHost(t *testing.T) {
	c := shipped(t)
	var settable []string
	for _, p := range c.List() {
		for _, q := range p.Params {
			if !q.AgentSettable {
				continue
			}
			settable = append(settable, p.Name+"."+q.Name)
			assert.Equal(t, ScopeCollector, q.Scope, q.Name)
			for _, word := range []string{"destination", "otlp", "header", "token", "key", "telemetry_endpoint", "exporter"} {
				assert.NotContains(t, q.Name, word, "%s: an agent may not set where data goes or a credential", q.Name)
			}
		}
	}
	assert.NotEmpty(t, settable)
}
