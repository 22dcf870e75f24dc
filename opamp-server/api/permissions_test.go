package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIPermissionsAreTheRoutes keeps each operation's x-permission,
// which docs/api.md shows, equal to the permission its route enforces.
func TestOpenAPIPermissionsAreTheRoutes(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	routes := newTestEnv(t, withEveryRoute(t)).api.routes
	require.NotEmpty(t, routes)
	for _, rt := range routes {
		raw, ok := doc.Paths[rt.pattern][strings.ToLower(rt.method)]
		require.True(t, ok, "%s %s is not in openapi.json", rt.method, rt.pattern)
		var op struct {
			Permission string `json:"x-permission"`
		}
		require.NoError(t, json.Unmarshal(raw, &op))
		assert.Equal(t, string(rt.perm), op.Permission, "%s %s: x-permission", rt.method, rt.pattern)
	}
}
