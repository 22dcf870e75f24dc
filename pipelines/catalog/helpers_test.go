package catalog

import (
	"maps"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/pipelines/distribution"
)

func shipped(t *testing.T) *Catalog {
	t.Helper()
	c, err := Load(distribution.ValidateYAML)
	require.NoError(t, err)
	return c
}

// parsed decodes a rendered configuration for assertions.
type parsed map[string]any

func parse(t *testing.T, cfg []byte) parsed {
	t.Helper()
	// Decoding into a plain map keeps nested mappings plain maps too.
	var out map[string]any
	require.NoError(t, yaml.Unmarshal(cfg, &out))
	return out
}

// at walks keys down nested mappings, and indexes ("0") down lists; nil
// when a step is missing.
func (p parsed) at(path ...string) any {
	var cur any = map[string]any(p)
	for _, k := range path {
		switch node := cur.(type) {
		case map[string]any:
			cur = node[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(node) {
				return nil
			}
			cur = node[i]
		default:
			return nil
		}
	}
	return cur
}

// keysAt lists the keys of the mapping at path, sorted.
func (p parsed) keysAt(path ...string) []string {
	m, _ := p.at(path...).(map[string]any)
	return slices.Sorted(maps.Keys(m))
}

// strings returns the list of strings at path.
func (p parsed) strings(path ...string) []string {
	l, _ := p.at(path...).([]any)
	out := make([]string, len(l))
	for i, e := range l {
		out[i], _ = e.(string)
	}
	return out
}
