package catalog

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/processors/contract/criticalrules"
)

func TestParameterErrorsNameTheParameter(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	tests := []struct {
		name   string
		params map[string]any
		want   string
	}{
		{"int below range", map[string]any{"k": 0}, `parameter "k": must be between 1 and 1000, got 0`},
		{"int above range", map[string]any{"k": 1001.0}, `parameter "k": must be between 1 and 1000, got 1001`},
		{"int with only a minimum", map[string]any{"max_series": -1}, `parameter "max_series": must be between 0 and 1000000, got -1`},
		{"fractional JSON number", map[string]any{"k": 10.5}, `parameter "k": must be an integer, got 10.5`},
		{"string for an int", map[string]any{"k": "10"}, `parameter "k": must be an integer, got string "10"`},
		{"null", map[string]any{"k": nil}, `parameter "k": must be an integer, got null`},
		{"bool", map[string]any{"system_metrics": "yes"}, `parameter "system_metrics": must be true or false, got string "yes"`},
		{"duration without unit", map[string]any{"collection_interval": 30.0}, `parameter "collection_interval": must be a duration string with a unit, such as "30s", got the number 30`},
		{"unparsable duration", map[string]any{"collection_interval": "soon"}, `parameter "collection_interval": must be a duration such as "30s" or "1m30s", got "soon"`},
		{"duration below range", map[string]any{"collection_interval": "500ms"}, `parameter "collection_interval": must be between 1s and 1h0m0s, got 500ms`},
		{"enum", map[string]any{"destination": "datadog"}, `parameter "destination": must be one of "none", "otlp_grpc", "otlp_http", "newrelic", "prometheus", got "datadog"`},
		{"enum of the wrong type", map[string]any{"destination": 1}, `parameter "destination": must be one of "none", "otlp_grpc", "otlp_http", "newrelic", "prometheus", got number 1`},
		{"pattern", map[string]any{"newrelic_license_key_env": "NR KEY"}, `parameter "newrelic_license_key_env": must match [A-Za-z_][A-Za-z0-9_]*, got "NR KEY"`},
		{"list element outside enum", map[string]any{"rank_by": []any{"cpu", "disk"}}, `parameter "rank_by": element 1: must be one of "cpu", "memory", got "disk"`},
		{"list duplicate", map[string]any{"rank_by": []string{"cpu", "cpu"}}, `parameter "rank_by": element 1: duplicate of element 0 ("cpu")`},
		{"list too short", map[string]any{"rank_by": []any{}}, `parameter "rank_by": must have at least 1 element(s), got 0`},
		{"list element type", map[string]any{"group_by": []any{"process.owner", 3.0}}, `parameter "group_by": element 1: must be a string, got number 3`},
		{"list element pattern", map[string]any{"group_by": []any{"process owner"}}, `parameter "group_by": element 0: must match [A-Za-z0-9_.-]+, got "process owner"`},
		{"map of the wrong type", map[string]any{"otlp_headers": []any{"a"}}, `parameter "otlp_headers": must be an object of strings, got list [a]`},
		{"map key pattern", map[string]any{"otlp_headers": map[string]any{"bad key": "v"}}, `parameter "otlp_headers": key "bad key": must match [A-Za-z0-9][A-Za-z0-9_.-]*`},
		{"map value pattern", map[string]any{"otlp_headers": map[string]any{"x": "a\nb"}}, `parameter "otlp_headers": key "x": must match [\x20-\x7E]*, got "a\nb"`},
		{"map value type", map[string]any{"otlp_env_headers": map[string]any{"x": true}}, `parameter "otlp_env_headers": key "x": must be a string, got boolean true`},
		{"rule without matcher", map[string]any{"critical_rules": []any{map[string]any{"name": "db"}}}, `parameter "critical_rules": rule 0: at least one of executable_name, executable_path, command_line or owner is required`},
		{"rule with an unknown key", map[string]any{"critical_rules": []any{map[string]any{"name": "db", "colour": "red"}}}, `parameter "critical_rules": rule 0: unknown key "colour" (want "name", "executable_name", "executable_path", "command_line", "owner")`},
		{"rule with a bad expression", map[string]any{"critical_rules": []any{map[string]any{"name": "db", "owner": "("}}}, "parameter \"critical_rules\": rule 0: owner: invalid regular expression \"(\": error parsing regexp: missing closing ): `(`"},
		{"duplicate rule names", map[string]any{"critical_rules": []any{map[string]any{"name": "a", "owner": "x"}, map[string]any{"name": "a", "owner": "y"}}}, `parameter "critical_rules": rule 1: duplicate rule name "a" (first used by rule 0)`},
		{"rules of the wrong type", map[string]any{"critical_rules": "postgres"}, `parameter "critical_rules": must be a list of rules, got string "postgres"`},
		{"rule that is no object", map[string]any{"critical_rules": []any{"postgres"}}, `parameter "critical_rules": rule 0: must be an object, got string "postgres"`},
		{"unknown parameter", map[string]any{"kk": 3}, `parameter "kk": unknown parameter of pipeline "topk-rollup"`},
		{"required when", map[string]any{"destination": "otlp_http"}, `parameter "otlp_endpoint": required when destination is "otlp_http"`},
		{"string injection refused by a pattern", map[string]any{"instance_id": "a\nservice: {}"}, `parameter "instance_id": must match [A-Za-z0-9._:-]{0,128}, got "a\nservice: {}"`},
		{
			"every problem at once, unknown names first",
			map[string]any{"k": 0, "zz": 1, "destination": "otlp_grpc"},
			`parameter "zz": unknown parameter of pipeline "topk-rollup"; parameter "k": must be between 1 and 1000, got 0; parameter "otlp_endpoint": required when destination is "otlp_grpc"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Render(t.Context(), "topk-rollup", tt.params)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			ipe, ok := AsInvalidParams(err)
			require.True(t, ok, "want an *InvalidParamsError, got %T", err)
			assert.NotEmpty(t, ipe.Problems)
		})
	}
}

func TestParamsComeBackCanonical(t *testing.T) {
	t.Parallel()
	p := &Param{Name: "x", Description: "x"}
	tests := []struct {
		typ  Type
		in   any
		want any
	}{
		{TypeInt, 12.0, 12},
		{TypeInt, int64(12), 12},
		{TypeInt, int32(12), 12},
		{TypeInt, float32(12), 12},
		{TypeInt, json.Number("12.0"), 12},
		{TypeInt, json.Number("12"), 12},
		{TypeDuration, "90s", "1m30s"},
		{TypeDuration, 2 * time.Second, "2s"},
		{TypeList, []any{"a", "b"}, []string{"a", "b"}},
		{TypeMap, map[string]any{"a": "1"}, map[string]string{"a": "1"}},
		{TypeRules, criticalrules.Rules{{Name: "db", Owner: "postgres"}}, []Rule{{Name: "db", Owner: "postgres"}}},
		{TypeRules, []any{map[string]any{"name": "db", "command_line": ".*db.*"}}, []Rule{{Name: "db", CommandLine: ".*db.*"}}},
		{TypeRules, []map[string]any{{"name": "db", "executable_path": "/usr/.*"}}, []Rule{{Name: "db", ExecutablePath: "/usr/.*"}}},
		{TypeRules, []Rule{{Name: "db", ExecutableName: "pg"}}, []Rule{{Name: "db", ExecutableName: "pg"}}},
		{TypeRules, []criticalrules.Rule{{Name: "db", ExecutableName: "pg"}}, []Rule{{Name: "db", ExecutableName: "pg"}}},
	}
	for _, tt := range tests {
		spec := *p
		spec.Type = tt.typ
		got, err := spec.normalize(tt.in)
		require.NoError(t, err, "%s %v", tt.typ, tt.in)
		assert.Equal(t, tt.want, got, "%s %v", tt.typ, tt.in)
	}

	for _, bad := range []any{uint(1), 1e300, json.Number("1e300"), json.Number("x"), float32(0.5)} {
		_, err := (&Param{Name: "n", Type: TypeInt}).normalize(bad)
		assert.Error(t, err, "%v", bad)
	}
}

func TestRenderedParamsHaveDefaultsApplied(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	r, err := c.Render(t.Context(), "topk", map[string]any{"k": 25.0, "collection_interval": "60s"})
	require.NoError(t, err)
	assert.Equal(t, 25, r.Params["k"])
	assert.Equal(t, "1m0s", r.Params["collection_interval"])
	assert.Equal(t, []string{"cpu", "memory"}, r.Params["rank_by"])
	assert.Equal(t, "topk", r.Params["variant"])
	assert.Equal(t, "none", r.Params["destination"])
	assert.NotContains(t, r.Params, "group_by", "topk has no process_rollup")

	p, err := c.Get("topk")
	require.NoError(t, err)
	assert.Len(t, r.Params, len(p.Params))
}

func TestSpecsRefuseConstraintsTheyCannotCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		spec Param
		want string
	}{
		{Param{Name: "Bad", Type: TypeString, Description: "d", Default: ""}, `name "Bad": must match`},
		{Param{Name: "a", Type: TypeString, Default: ""}, "description is required"},
		{Param{Name: "a", Type: "float", Description: "d", Default: 1}, `unknown type "float"`},
		{Param{Name: "a", Type: TypeString, Description: "d", Default: "", Min: 1}, "min and max apply to int and duration only"},
		{Param{Name: "a", Type: TypeBool, Description: "d", Default: false, Enum: []string{"x"}}, "enum applies to enum and list only"},
		{Param{Name: "a", Type: TypeInt, Description: "d", Default: 1, Pattern: "x"}, "pattern applies to string, list and map only"},
		{Param{Name: "a", Type: TypeList, Description: "d", Default: []any{}, KeyPattern: "x"}, "key_pattern applies to map only"},
		{Param{Name: "a", Type: TypeMap, Description: "d", Default: map[string]any{}, MinItems: 1}, "min_items applies to list only"},
		{Param{Name: "a", Type: TypeEnum, Description: "d", Default: "x"}, "an enum needs enum values"},
		{Param{Name: "a", Type: TypeString, Description: "d", Default: "", Pattern: "("}, "pattern: error parsing regexp"},
		{Param{Name: "a", Type: TypeInt, Description: "d", Default: 1, Min: "x"}, "min: must be an integer"},
		{Param{Name: "a", Type: TypeDuration, Description: "d", Default: "1s", Max: "x"}, "max: must be a duration"},
		{Param{Name: "a", Type: TypeString, Description: "d"}, "an optional parameter needs a default"},
		{Param{Name: "a", Type: TypeString, Description: "d", Required: true, Default: "x"}, "a required parameter has neither default nor required_when"},
		{Param{Name: "a", Type: TypeInt, Description: "d", Default: 5, Max: 3}, `parameter "a": default: must be at most 3, got 5`},
		{Param{Name: "a", Type: TypeList, Description: "d", Default: []any{}, EnvVar: true}, "env_var applies to string and map only"},
		{Param{Name: "a", Type: TypeString, Description: "d", Default: "", EnvVar: true, AgentSettable: true}, "an env_var parameter names a credential"},
	}
	for _, tt := range tests {
		spec := tt.spec
		err := spec.compile()
		require.Error(t, err, "%+v", tt.spec)
		assert.Contains(t, err.Error(), tt.want)
	}

	ok := Param{Name: "a", Type: TypeInt, Description: "d", Required: true, Min: 2}
	require.NoError(t, ok.compile())
	assert.Equal(t, "must be at least 2, got 1", mustFail(t, &ok, 1))
	ok.Min, ok.Max = nil, 3
	require.NoError(t, ok.compile())
	assert.Equal(t, "must be at most 3, got 4", mustFail(t, &ok, 4))
	d := Param{Name: "d", Type: TypeDuration, Description: "d", Default: "1s", Min: "1s"}
	require.NoError(t, d.compile())
	assert.Equal(t, "must be at least 1s, got 1ms", mustFail(t, &d, "1ms"))
	d.Min, d.Max = nil, "1m"
	require.NoError(t, d.compile())
	assert.Equal(t, "must be at most 1m0s, got 2m0s", mustFail(t, &d, "2m"))
}

func mustFail(t *testing.T, p *Param, v any) string {
	t.Helper()
	_, err := p.normalize(v)
	require.Error(t, err)
	return err.Error()
}
