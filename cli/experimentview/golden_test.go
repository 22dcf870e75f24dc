package experimentview

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/internal/clitest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(file, []byte(got), 0o600))
	}
	want, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
}

// The results of a single candidate print as they did before experiments
// could compare several.
func TestPrintResultsOfOneCandidateGolden(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, PrintResults(&out, clitest.Results()))
	golden(t, "results-single.txt", out.String())
}
