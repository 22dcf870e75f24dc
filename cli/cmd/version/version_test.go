package version

import (
	"encoding/json"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ios, out, errOut := cmdutil.Test()
	cmd := NewCmd(ios)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

func TestVersion(t *testing.T) {
	want := Info{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}

	out, err := run(t)
	require.NoError(t, err)
	assert.Equal(t, "phoenix "+want.Version+" ("+want.GoVersion+", "+want.Platform+")\n", out)

	out, err = run(t, "-o", "json")
	require.NoError(t, err)
	var got Info
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, want, got)
	var keys map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &keys))
	assert.Len(t, keys, 3, "version, go_version and platform: %s", out)

	out, err = run(t, "-o", "yaml")
	require.NoError(t, err)
	got = Info{}
	require.NoError(t, yaml.Unmarshal([]byte(out), &got))
	assert.Equal(t, want, got)

	_, err = run(t, "-o", "xml")
	assert.Error(t, err)
	_, err = run(t, "extra")
	assert.Error(t, err, "version takes no arguments")
}
