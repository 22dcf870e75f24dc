package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/experiments"
)

// openAPIDoc is the part of the OpenAPI document the consistency checks read.
type openAPIDoc struct {
	OpenAPI string `json:"openapi"`
	Servers []struct {
		URL string `json:"url"`
	} `json:"servers"`
	Paths map[string]map[string]json.RawMessage `json:"paths"`
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Parameters  []struct {
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

// httpMethods are the keys of an OpenAPI path item that are operations;
// anything else (parameters, summary, …) is not a route.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// wildcard matches a net/http pattern wildcard: {name}, {name...} or {$}.
var wildcard = regexp.MustCompile(`\{([^{}]*)\}`)

// routeKey turns a net/http pattern path into OpenAPI template syntax:
// {name...} becomes {name} and {$} (exact match) disappears.
func routeKey(method, path string) string {
	path = wildcard.ReplaceAllStringFunc(path, func(w string) string {
		name := strings.TrimSuffix(w[1:len(w)-1], "...")
		if name == "$" {
			return ""
		}
		return "{" + name + "}"
	})
	return strings.ToUpper(method) + " " + path
}

func loadOpenAPI(t *testing.T) (openAPIDoc, any) {
	t.Helper()
	var doc openAPIDoc
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	var raw any
	require.NoError(t, json.Unmarshal(OpenAPI(), &raw))
	return doc, raw
}

func TestOpenAPIPathsAreExactlyTheRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	require.Len(t, doc.Servers, 1)
	require.Equal(t, apitypes.Prefix, doc.Servers[0].URL, "paths are relative to the server URL, the API prefix")

	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(httpMethods, key) {
				documented = append(documented, routeKey(key, doc.Servers[0].URL+path))
			}
		}
	}
	var registered []string
	for _, rt := range newTestEnv(t, withEveryRoute(t)).api.Routes() {
		method, path, ok := strings.Cut(rt, " ")
		require.True(t, ok, "route %q is not METHOD PATH", rt)
		registered = append(registered, routeKey(method, path))
	}
	require.NotEmpty(t, registered)
	var undocumented, unregistered []string
	for _, rt := range registered {
		if !slices.Contains(documented, rt) {
			undocumented = append(undocumented, rt)
		}
	}
	for _, op := range documented {
		if !slices.Contains(registered, op) {
			unregistered = append(unregistered, op)
		}
	}
	slices.Sort(undocumented)
	slices.Sort(unregistered)
	assert.Empty(t, undocumented, "routes missing from openapi.json")
	assert.Empty(t, unregistered, "operations in openapi.json that no route serves")
}

// withEveryRoute enables the optional route groups, so that none escapes the
// documentation check.
func withEveryRoute(t *testing.T) func(*Settings) {
	t.Helper()
	return func(s *Settings) {
		exps, err := experiments.New(experiments.Settings{Store: s.Store, Catalog: s.Catalog, Assignments: s.Assignments,
			Analyze: func(context.Context, experiments.Experiment, map[string][]apitypes.Sample) (apitypes.Results, error) {
				return apitypes.Results{}, nil
			}})
		require.NoError(t, err)
		s.Experiments = exps
		s.Report = func(context.Context, string, io.Writer) error { return nil }
		s.Rollouts = assignment.NewRollouts(s.Assignments, nil)
	}
}

func TestRouteKey(t *testing.T) {
	tests := []struct{ method, path, want string }{
		{"get", "/api/v1/agents", "GET /api/v1/agents"},
		{"PUT", "/api/v1/agents/{uid}/config", "PUT /api/v1/agents/{uid}/config"},
		{"GET", "/api/v1/files/{path...}", "GET /api/v1/files/{path}"},
		{"GET", "/api/v1/{$}", "GET /api/v1/"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, routeKey(tt.method, tt.path))
	}
}

func TestOpenAPIOperationsAreComplete(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	seenIDs := map[string]string{}
	for path, item := range doc.Paths {
		// Path-level parameters apply to every operation of the path.
		var shared openAPIOperation
		if raw, ok := item["parameters"]; ok {
			require.NoError(t, json.Unmarshal(raw, &shared.Parameters), path)
		}
		for key, raw := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			where := strings.ToUpper(key) + " " + path
			var op openAPIOperation
			require.NoError(t, json.Unmarshal(raw, &op), where)
			assert.NotEmpty(t, op.Responses, "%s has no responses", where)
			if assert.NotEmpty(t, op.OperationID, "%s has no operationId", where) {
				if other, dup := seenIDs[op.OperationID]; dup {
					t.Errorf("%s reuses operationId %q of %s", where, op.OperationID, other)
				}
				seenIDs[op.OperationID] = where
			}
			// Every {param} of the path is declared as a path parameter.
			for _, m := range wildcard.FindAllStringSubmatch(path, -1) {
				declared := false
				for _, p := range slices.Concat(shared.Parameters, op.Parameters) {
					declared = declared || (p.In == "path" && p.Name == m[1])
				}
				assert.True(t, declared, "%s does not declare path parameter %q", where, m[1])
			}
		}
	}
}

func TestOpenAPIRefsResolve(t *testing.T) {
	_, raw := loadOpenAPI(t)
	var refs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if s, ok := child.(string); ok && k == "$ref" {
					refs = append(refs, s)
					continue
				}
				walk(child)
			}
		case []any:
			for _, child := range v {
				walk(child)
			}
		}
	}
	walk(raw)
	require.NotEmpty(t, refs, "the document uses $ref; finding none means the walk is broken")
	for _, ref := range refs {
		_, err := resolvePointer(raw, ref)
		assert.NoError(t, err, "$ref %q", ref)
	}

	_, err := resolvePointer(raw, "#/components/schemas/NoSuchSchema")
	assert.Error(t, err, "a dangling reference must not resolve")
}

// resolvePointer resolves a local JSON reference ("#/a/b") in doc.
func resolvePointer(doc any, ref string) (any, error) {
	pointer, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("only local references are used: %q", ref)
	}
	cur := doc
	for _, tok := range strings.Split(pointer, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%q: %q is not inside an object", ref, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("%q: no %q", ref, tok)
		}
	}
	return cur, nil
}

func TestOpenAPIIsServedWithoutAuthentication(t *testing.T) {
	env := newTestEnv(t, withTokens(t))
	resp := env.do(t, http.MethodGet, apitypes.Prefix+"/openapi.json", nil)
	require.Equal(t, http.StatusOK, resp.status)
	assert.Equal(t, "application/json", resp.header.Get("Content-Type"))
	assert.JSONEq(t, string(OpenAPI()), string(resp.body))
	assert.NotEmpty(t, resp.header.Get("X-Request-ID"))
}

// TestOpenAPIBodiesAreTheSharedTypes holds the paths to the generated
// schemas: a request body or response data written inline would be a second
// copy of the contract, free to drift from the Go types.
func TestOpenAPIBodiesAreTheSharedTypes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody *struct {
				Content map[string]struct {
					Schema map[string]any `json:"schema"`
				} `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Properties map[string]map[string]any `json:"properties"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(OpenAPI(), &doc))
	isRef := func(s map[string]any) bool {
		if items, ok := s["items"].(map[string]any); ok && s["type"] == "array" {
			s = items
		}
		ref, _ := s["$ref"].(string)
		return strings.HasPrefix(ref, "#/components/schemas/")
	}
	checked := 0
	for path, item := range doc.Paths {
		for method, op := range item {
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Content {
					if ct == "application/json" {
						assert.True(t, isRef(mt.Schema), "%s %s: request body is written inline", method, path)
						checked++
					}
				}
			}
			for status, resp := range op.Responses {
				for _, mt := range resp.Content {
					if data, ok := mt.Schema.Properties["data"]; ok {
						assert.True(t, isRef(data), "%s %s %s: response data is written inline", method, path, status)
						checked++
					}
				}
			}
		}
	}
	assert.Greater(t, checked, 20, "the check reached the operations")
}
