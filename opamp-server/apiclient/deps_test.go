package apiclient

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLinksOnlyTheWireContract keeps a client small: it builds from the
// standard library and the shared API types, never from the server's
// packages or the collector's components.
func TestLinksOnlyTheWireContract(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	var deps []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if line != "" {
			deps = append(deps, line)
		}
	}
	require.Equal(t, []string{
		"github.com/phoenix/platform/opamp-server/apitypes",
		"github.com/phoenix/platform/opamp-server/apiclient",
	}, deps)
}
