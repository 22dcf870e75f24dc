package main

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// generated returns the schemas generated from apitypes, decoded.
func generated(t *testing.T) map[string]map[string]any {
	t.Helper()
	c, err := readComments("../../../apitypes")
	require.NoError(t, err)
	g := newGenerator(c)
	require.NoError(t, g.addRoots())
	raw, err := g.marshal()
	require.NoError(t, err)
	var out map[string]map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func TestTheCommittedDocumentIsGeneratedFromTheTypes(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../openapi.json")
	require.NoError(t, err)
	c, err := readComments("../../../apitypes")
	require.NoError(t, err)
	out, err := regenerate(raw, c)
	require.NoError(t, err)
	assert.Equal(t, string(raw), string(out), "openapi.json is stale: run make generate")
}

func TestSchemasFollowTheGoTypes(t *testing.T) {
	t.Parallel()
	s := generated(t)

	agent := s["AgentView"]
	props := agent["properties"].(map[string]any)
	assert.Contains(t, props, "instance_uid", "an embedded struct's fields are flattened, as encoding/json does")
	assert.Contains(t, props, "drift")
	assert.Contains(t, agent["required"], "drift", "a field without omitempty is required")
	assert.NotContains(t, agent["required"], "assignment", "an omitempty field is optional")
	assert.Equal(t, []any{"websocket", "http"}, props["connection_type"].(map[string]any)["enum"],
		"a string type's typed constants are its enumeration")
	assert.Equal(t, "An agent as the API shows it: the inventory record, its assignment and whether what it runs matches what it was assigned.",
		agent["description"], "the doc comment, without the Go name it opens with")

	asg := props["assignment"].(map[string]any)
	assert.Equal(t, []any{map[string]any{"$ref": "#/components/schemas/Assignment"}}, asg["allOf"],
		"a described reference wraps the $ref, which may not have siblings")
	assert.NotEmpty(t, asg["description"])

	code := s["Error"]["properties"].(map[string]any)["code"].(map[string]any)
	var codes []any
	for _, c := range []apitypes.ErrorCode{apitypes.CodeBadRequest, apitypes.CodeUnauthorized, apitypes.CodeForbidden,
		apitypes.CodeNotFound, apitypes.CodeConflict, apitypes.CodeInvalid, apitypes.CodeInvalidParameters,
		apitypes.CodeUnavailable, apitypes.CodeInternal} {
		codes = append(codes, string(c))
	}
	assert.Equal(t, codes, code["enum"])

	spec := s["ExperimentSpec"]["properties"].(map[string]any)
	assert.Equal(t, map[string]any{"type": "string", "example": "10m", "description": spec["duration"].(map[string]any)["description"]},
		spec["duration"], "durations are strings such as 10m")
	params := spec["parameters"].(map[string]any)
	assert.Equal(t, "object", params["type"])
	assert.Equal(t, true, params["additionalProperties"], "a map of any value allows any keys")
}

func TestEveryStructTheRootsReachHasASchema(t *testing.T) {
	t.Parallel()
	s := generated(t)
	for _, name := range []string{"Results", "Figures", "Estimate", "Interval", "Verdict", "Check", "Point",
		"ExperimentState", "ExperimentTarget", "ExperimentEvent", "Problem", "PipelineParam", "CriticalRule"} {
		assert.Contains(t, s, name)
	}
}

func TestRefusesWhatItCannotDescribe(t *testing.T) {
	t.Parallel()
	g := newGenerator(&comments{enums: map[string][]string{}})
	_, err := g.ref(reflect.TypeFor[struct{ A int }]())
	assert.ErrorContains(t, err, "only apitypes struct types")
	_, err = g.schemaOf(reflect.TypeFor[map[int]string]())
	assert.ErrorContains(t, err, "JSON objects have string keys")
	_, err = g.schemaOf(reflect.TypeFor[chan int]())
	assert.ErrorContains(t, err, "no JSON schema mapping")
	_, err = g.schemaOf(reflect.TypeFor[apitypes.DriftState]())
	assert.ErrorContains(t, err, "no typed constants", "an enumeration type must list its values")
}

func TestProse(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "The store's default.", prose("Limit", "Limit is the store's default."))
	assert.Equal(t, "From and To are bounds.", prose("From", "From and To are bounds."))
	assert.Equal(t, "", prose("X", ""))
}
