package catalog

import (
	"maps"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestValuesPrintAsYAMLFlowValues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v    any
		want string
	}{
		{"a: b", `"a: b"`},
		{"${env:HOME} $$", `"$${env:HOME} $$$$"`},
		{"<&>\n", `"<&>\n"`},
		{42, "42"},
		{true, "true"},
		{[]string{"cpu", `"x"`}, `["cpu", "\"x\""]`},
		{[]string{}, "[]"},
		{map[string]string{"b": "2", "a": "$1"}, `{"a": "$$1", "b": "2"}`},
		{[]Rule{{Name: "db", Owner: "postgres"}, {Name: "web", ExecutableName: "nginx", CommandLine: ".*"}}, `[{name: "db", owner: "postgres"}, {name: "web", executable_name: "nginx", command_line: ".*"}]`},
		{3.5, "{invalid value of type float64"},
	}
	for _, tt := range tests {
		got := Value{v: tt.v}.String()
		assert.Equal(t, tt.want, got)
		var back any
		err := yaml.Unmarshal([]byte("v: "+got), &back)
		if tt.v == 3.5 {
			assert.Error(t, err, "an unexpected type cannot render")
		} else {
			assert.NoError(t, err, got)
		}
	}
}

func TestValueMethods(t *testing.T) {
	t.Parallel()
	assert.True(t, Value{v: "x"}.Is("x"))
	assert.False(t, Value{v: 1}.Is("1"))
	assert.True(t, Value{v: true}.On())
	assert.False(t, Value{v: "true"}.On())
	for _, v := range []any{"x", 1, true, []string{"a"}, map[string]string{"a": ""}, []Rule{{}}} {
		assert.True(t, Value{v: v}.Set(), "%v", v)
	}
	for _, v := range []any{"", 0, false, []string{}, map[string]string{}, []Rule{}, nil} {
		assert.False(t, Value{v: v}.Set(), "%v", v)
	}

	ms, err := Value{v: "1m30s"}.Millis()
	require.NoError(t, err)
	assert.Equal(t, int64(90000), ms)
	_, err = Value{v: 5}.Millis()
	assert.Error(t, err)

	bearer, err := Value{v: "PHOENIX_AGENT_TOKEN", env: true}.BearerEnvRef()
	require.NoError(t, err)
	assert.Equal(t, `"Bearer ${env:PHOENIX_AGENT_TOKEN}"`, bearer)
	_, err = Value{v: "not a name", env: true}.BearerEnvRef()
	assert.Error(t, err)

	ref, err := Value{v: "NR_KEY", env: true}.EnvRef()
	require.NoError(t, err)
	assert.Equal(t, `"${env:NR_KEY}"`, ref)
	_, err = Value{v: "A}${file:/etc/passwd", env: true}.EnvRef()
	assert.Error(t, err, "EnvRef is the one unescaped ${: it checks its input itself")
	_, err = Value{v: "NR_KEY"}.EnvRef()
	assert.ErrorContains(t, err, "not marked env_var", "only a declared env_var parameter names a variable")

	host, err := Value{v: "[::1]:8888"}.Host()
	require.NoError(t, err)
	assert.Equal(t, `"::1"`, host.String())
	port, err := Value{v: "0.0.0.0:8888"}.Port()
	require.NoError(t, err)
	assert.Equal(t, 8888, port)
	_, err = Value{v: "0.0.0.0"}.Host()
	assert.ErrorContains(t, err, `Host: "0.0.0.0" is not host:port`)
	_, err = Value{v: "0.0.0.0:99999"}.Port()
	assert.ErrorContains(t, err, "port \"99999\" is not a number from 1 to 65535")

	assert.Equal(t, []Entry{{Value{v: "a"}, Value{v: "1"}}, {Value{v: "b"}, Value{v: "2"}}}, Value{v: map[string]string{"b": "2", "a": "1"}}.Entries())
	assert.Equal(t, []Entry{{Value{v: "x-key"}, Value{v: "K", env: true}}}, Value{v: map[string]string{"x-key": "K"}, env: true}.Entries(),
		"an env_var map's values name variables, its keys do not")
}

func TestNormaliseRefusesDuplicatesAndAliases(t *testing.T) {
	t.Parallel()
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte("a: {b: 1, b: 2}"), &doc))
	_, err := encode(doc.Content[0])
	assert.EqualError(t, err, `duplicate key "b" in a`)

	require.NoError(t, yaml.Unmarshal([]byte("a: 1\na: 2"), &doc))
	_, err = encode(doc.Content[0])
	assert.EqualError(t, err, `duplicate key "a" in the top level`)

	require.NoError(t, yaml.Unmarshal([]byte("a: &x [1]\nb: [*x]"), &doc))
	_, err = encode(doc.Content[0])
	assert.EqualError(t, err, "alias in b::0: templates must not use anchors")

	// The same header given literally and from the environment.
	_, err = shipped(t).Render(t.Context(), "baseline", map[string]any{
		"destination": "otlp_http", "otlp_endpoint": "https://x",
		"otlp_headers": map[string]any{"authorization": "a"}, "otlp_env_headers": map[string]any{"authorization": "B"},
	})
	assert.EqualError(t, err, `pipeline "baseline" 1.0.0: duplicate key "authorization" in exporters::otlp_http::headers`)
}

func TestRenderReportsBrokenTemplates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config, want string
	}{
		{"unknown parameter", "k: {{ .kk }}", `template process_topk: template: process_topk:1:6: executing "process_topk" at <.kk>: map has no entry for key "kk"`},
		{"invalid YAML", "k: [", "template process_topk rendered invalid YAML"},
		{"not a mapping", "[1]", "template process_topk must render a mapping"},
		{"nothing", "# {{ .k }}", "template process_topk rendered nothing"},
		{"method error", "k: {{ .k.Millis }}", "Millis: not a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fsys := maps.Clone(minimalCatalog())
			fsys["shared/components.yaml"] = &fstest.MapFile{Data: []byte(
				"process_topk:\n  parameters: [{name: k, type: int, default: 1, description: d}]\n  config: '" + tt.config + "'\n")}
			c, err := load(fsys)
			require.NoError(t, err)
			_, err = c.Render(t.Context(), "one", nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
