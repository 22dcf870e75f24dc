package report

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// A report on a single candidate is the same, byte for byte, as before
// experiments could compare several.
func TestRenderOneCandidateGolden(t *testing.T) {
	got := render(t, fullData(pairedResults(t)))
	file := filepath.Join("testdata", "report-single.html")
	if *update {
		require.NoError(t, os.WriteFile(file, []byte(got), 0o600))
	}
	want, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, string(want), got)
}
