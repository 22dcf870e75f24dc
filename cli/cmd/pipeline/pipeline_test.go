package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/store"
)

// catalogNames are the catalog's pipelines, in the order the server lists them.
func catalogNames(srv *clitest.Server) []string {
	var names []string
	for _, p := range srv.Catalog.List() {
		names = append(names, p.Name)
	}
	return names
}

// These tests serve the API without authentication: the commands send no
// token.

func TestList(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, "")
	names := catalogNames(srv)

	out, _, err := srv.Run(t, NewCmd, "list")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, len(names)+1)
	assert.Equal(t, []string{"NAME", "VERSION", "RECOMMENDED", "DESCRIPTION"}, strings.Fields(lines[0]))
	for i, name := range names {
		assert.Equal(t, name, strings.Fields(lines[i+1])[0])
		assert.Regexp(t, `^\S+\s+\d+\.\d+\.\d+\s`, lines[i+1])
	}
	assert.Regexp(t, regexp.MustCompile(`(?m)^\S+\s+\S+\s+yes\s`), out, "the recommended pipeline is marked")

	for _, format := range []string{"json", "yaml"} {
		out, _, err := srv.Run(t, NewCmd, "list", "-o", format)
		require.NoError(t, err)
		var docs []map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(out), &docs), format) // YAML reads JSON too
		var got []string
		for _, d := range docs {
			got = append(got, d["name"].(string))
			assert.Contains(t, d, "parameters", "%s: the whole catalog entry", format)
		}
		assert.Equal(t, names, got, format)
	}
}

func TestShow(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, "")
	for _, args := range [][]string{{"show", "topk"}, {"show", "topk", "-o", "table"}, {"show", "topk", "-o", "yaml"}} {
		out, _, err := srv.Run(t, NewCmd, args...)
		require.NoError(t, err)
		var doc map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(out), &doc))
		assert.Equal(t, "topk", doc["name"], args)
		assert.False(t, json.Valid([]byte(out)), "%v prints YAML", args)
	}
	out, _, err := srv.Run(t, NewCmd, "show", "topk", "-o", "json")
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Equal(t, "topk", doc["name"])

	_, _, err = srv.Run(t, NewCmd, "show", "nope")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "pipeline nope")
	assert.Contains(t, err.Error(), "HTTP 404")
}

func TestRender(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, "")
	params := clitest.WriteFile(t, "params.yaml", "collection_interval: 1m\nmemory_limit_mib: 128\n")

	out, errOut, err := srv.Run(t, NewCmd, "render", "baseline", "--params-file", params, "-p", "memory_limit_mib=256")
	require.NoError(t, err)
	hash := store.HashConfig([]byte(out))
	assert.Regexp(t, `^# baseline \d+\.\d+\.\d+, config hash `+hash+"\n$", errOut, "the hash on stderr is the config's on stdout")
	var cfg map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(out), &cfg), "stdout is the configuration alone")
	assert.Contains(t, cfg, "service")
	assert.Contains(t, out, "limit_mib: 256", "--param beats --params-file")

	_, _, err = srv.Run(t, NewCmd, "render", "baseline", "--param", "memory_limit_mib=1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rendering baseline")
	assert.Contains(t, err.Error(), "invalid_parameters")

	_, _, err = srv.Run(t, NewCmd, "render", "baseline", "--param", "nokey")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "want key=value")

	_, _, err = srv.Run(t, NewCmd, "render", "nope")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 404")
}

func TestValidate(t *testing.T) {
	t.Parallel()
	srv := clitest.NewServer(t, "")
	good := clitest.WriteFile(t, "good.yaml", clitest.CollectorConfig)
	bad := clitest.WriteFile(t, "bad.yaml", strings.Replace(clitest.CollectorConfig, "exporters: [nop]", "processors: [batch], exporters: [nop]", 1))

	out, _, err := srv.Run(t, NewCmd, "validate", good)
	require.NoError(t, err)
	assert.Equal(t, good+": valid\n", out)

	out, _, err = srv.Run(t, NewCmd, "validate", bad)
	require.Error(t, err)
	assert.Empty(t, out)
	assert.Contains(t, err.Error(), bad)
	assert.Contains(t, err.Error(), "\n  service::pipelines::metrics: ", "each problem with its path")

	_, _, err = srv.Run(t, NewCmd, "validate", filepath.Join(t.TempDir(), "missing.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)

	// The server resolves no reference, and says when assigning needs an
	// admin.
	hostFile := clitest.WriteFile(t, "host.yaml", strings.NewReplacer("exporters: [nop]", "exporters: [nop, file]",
		"exporters: {nop: {}}", `exporters: {nop: {}, file: {path: "${env:OUT_PATH}"}}`).Replace(clitest.CollectorConfig))
	out, errOut, err := srv.Run(t, NewCmd, "validate", hostFile)
	require.NoError(t, err)
	assert.Equal(t, hostFile+": valid\n", out)
	assert.Equal(t, hostFile+": note: assigning it needs the admin role: it reaches into every host it runs on:\n"+
		"  exporters::file: writes files on the host\n"+
		"  exporters::file::path: ${env:OUT_PATH} reads environment variable OUT_PATH, which no catalog pipeline references and the server's agent_env_allowlist does not allow\n", errOut)
}

func TestServerUnreachable(t *testing.T) {
	t.Parallel()
	url := clitest.Unreachable(t)
	_, _, err := clitest.Run(t, NewCmd, "list", "--server", url, "--token", "t")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "calling "+url)
}
