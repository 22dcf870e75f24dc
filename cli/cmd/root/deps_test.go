package root

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandsSpeakOnlyTheWireContract keeps the CLI a client: a command
// reaches the control plane through apiclient and apitypes only. The two
// commands that run a server in this process (`phoenix server`, and
// `phoenix demo` through cli/demo) are the exceptions, and say so.
func TestCommandsSpeakOnlyTheWireContract(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "../...").CombinedOutput()
	require.NoError(t, err, "%s", out)
	allowed := map[string]bool{
		"github.com/phoenix/platform/opamp-server/apitypes":  true,
		"github.com/phoenix/platform/opamp-server/apiclient": true,
	}
	runsAServer := map[string]bool{
		"github.com/phoenix/platform/cli/cmd/server": true,
		"github.com/phoenix/platform/cli/cmd/demo":   true,
		"github.com/phoenix/platform/cli/cmd/root":   true, // assembles every command
	}
	checked := 0
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		pkg, deps, _ := strings.Cut(line, " ")
		if runsAServer[pkg] {
			continue
		}
		checked++
		for _, d := range strings.Fields(deps) {
			if strings.HasPrefix(d, "github.com/phoenix/platform/opamp-server/") {
				assert.True(t, allowed[d], "%s links %s: commands speak to the server through apiclient", pkg, d)
			}
		}
	}
	assert.Greater(t, checked, 5)
}
