package collectorconfig

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/pipelines/distribution"
)

const (
	validConfig = `receivers: {host_metrics: {scrapers: {process: {}}}}
processors: {process_critical: {}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [host_metrics], processors: [process_critical], exporters: [nop]}}}
`
	// invalidConfig has a dangling processor reference and a
	// process_critical that fails its own validation.
	invalidConfig = `receivers: {host_metrics: {scrapers: {process: {}}}}
processors: {process_critical: {process_ttl: 0s}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [host_metrics], processors: [process_critical, batch], exporters: [nop]}}}
`
)

// run executes `phoenix collector-config validate args...`.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return clitest.Run(t, NewCmd, append([]string{"validate"}, args...)...)
}

func files(t *testing.T) (good, bad string) {
	t.Helper()
	return clitest.WriteFile(t, "good.yaml", validConfig), clitest.WriteFile(t, "bad.yaml", invalidConfig)
}

func TestValidateValidFile(t *testing.T) {
	t.Parallel()
	good, _ := files(t)
	out, errOut, err := run(t, good)
	require.NoError(t, err)
	assert.Equal(t, good+": valid\n", out)
	assert.Empty(t, errOut)
}

func TestValidateInvalidFile(t *testing.T) {
	t.Parallel()
	good, bad := files(t)
	out, errOut, err := run(t, good, bad)
	assert.ErrorIs(t, err, cmdutil.ErrSilent, "the problems are already printed: exit 1 without repeating them")
	assert.Equal(t, good+": valid\n", out)
	assert.Equal(t, bad+": invalid\n"+
		"  service::pipelines::metrics: references processor \"batch\" which is not configured\n"+
		"  processors::process_critical: process_ttl must be positive\n", errOut)
}

func TestValidateStructured(t *testing.T) {
	t.Parallel()
	good, bad := files(t)
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	out, errOut, err := run(t, "-o", "json", good, bad, missing)
	assert.ErrorIs(t, err, cmdutil.ErrSilent)
	assert.Empty(t, errOut)
	var results []FileResult
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	require.Len(t, results, 3)
	assert.Equal(t, FileResult{File: good, Valid: true}, results[0])
	assert.Equal(t, FileResult{File: bad, Problems: []distribution.Problem{
		{Path: "service::pipelines::metrics", Message: `references processor "batch" which is not configured`},
		{Path: "processors::process_critical", Message: "process_ttl must be positive"},
	}}, results[1])
	assert.False(t, results[2].Valid)
	require.Len(t, results[2].Problems, 1)
	assert.Contains(t, results[2].Problems[0].Message, "missing.yaml")

	out, _, err = run(t, "-o", "yaml", good)
	require.NoError(t, err)
	assert.Equal(t, "- file: "+good+"\n  valid: true\n", out)
}

func TestValidateArguments(t *testing.T) {
	t.Parallel()
	_, _, err := run(t)
	require.Error(t, err, "at least one file")
	assert.NotErrorIs(t, err, cmdutil.ErrSilent)

	good, _ := files(t)
	_, _, err = run(t, "-o", "toml", good)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown output format")
}
