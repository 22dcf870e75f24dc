package catalog

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsDescribeEveryPipelineAndParameter keeps docs/pipelines.md in step
// with the catalog: a row per pipeline with its version, a row per parameter
// with its type.
func TestDocsDescribeEveryPipelineAndParameter(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../../docs/pipelines.md")
	require.NoError(t, err)
	docs := string(data)
	for _, p := range shipped(t).List() {
		assert.Regexp(t, "(?m)^\\| `"+p.Name+"`[^|]* \\| "+p.Version+" \\|", docs, "pipeline %s", p.Name)
		for _, spec := range p.Params {
			assert.True(t, strings.Contains(docs, "| `"+spec.Name+"` | "+string(spec.Type)+" |"), "parameter %s of %s", spec.Name, p.Name)
		}
	}
}
