package version

import (
	"encoding/json"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/internal/clitest"
)

func TestVersion(t *testing.T) {
	t.Parallel()
	want := Info{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}

	out, _, err := clitest.Run(t, clitest.Real(NewCmd))
	require.NoError(t, err)
	assert.Equal(t, "phoenix "+want.Version+" ("+want.GoVersion+", "+want.Platform+")\n", out)

	out, _, err = clitest.Run(t, clitest.Real(NewCmd), "-o", "json")
	require.NoError(t, err)
	var got Info
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, want, got)
	var keys map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &keys))
	assert.Len(t, keys, 3, "version, go_version and platform: %s", out)

	out, _, err = clitest.Run(t, clitest.Real(NewCmd), "-o", "yaml")
	require.NoError(t, err)
	got = Info{}
	require.NoError(t, yaml.Unmarshal([]byte(out), &got))
	assert.Equal(t, want, got)

	_, _, err = clitest.Run(t, clitest.Real(NewCmd), "-o", "xml")
	assert.Error(t, err)
	_, _, err = clitest.Run(t, clitest.Real(NewCmd), "extra")
	assert.Error(t, err, "version takes no arguments")
}
