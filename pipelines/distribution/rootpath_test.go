package distribution

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hostRootConfig has two host_metrics receivers with the given roots.
func hostRootConfig(processRoot, systemRoot string) string {
	return `
receivers:
  host_metrics/process: {root_path: "` + processRoot + `", scrapers: {process: {}}}
  host_metrics/system: {root_path: "` + systemRoot + `", scrapers: {memory: {}, filesystem: {}}}
exporters: {nop: {}}
service:
  pipelines:
    metrics/process: {receivers: [host_metrics/process], exporters: [nop]}
    metrics/system: {receivers: [host_metrics/system], exporters: [nop]}
`
}

// A DaemonSet's root exists on its node, not where the server validates:
// validation must not depend on it, nor on roots validated before.
func TestValidateRootPathIsTheAgentsHosts(t *testing.T) {
	require.NoError(t, ValidateYAML(t.Context(), []byte(hostRootConfig("/hostfs-not-on-this-machine", "/hostfs-not-on-this-machine"))))
	require.NoError(t, ValidateYAML(t.Context(), []byte(hostRootConfig("/another-root", "/another-root"))),
		"a second root in the same process is another agent's, not an inconsistency")
	require.NoError(t, ValidateYAML(t.Context(), []byte(hostRootConfig("/", ""))))
}

func TestValidateRootPathProblems(t *testing.T) {
	tests := []struct {
		name           string
		process, sys   string
		wantPath, want string
	}{
		{"relative", "hostfs", "hostfs", "receivers::host_metrics/process::root_path", `"hostfs" is not an absolute path`},
		{"different roots", "/hostfs", "/host", "receivers::host_metrics/system::root_path",
			`"/host" differs from "/hostfs" of receivers::host_metrics/process: every host_metrics receiver of a collector must use the same root_path`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateYAML(t.Context(), []byte(hostRootConfig(tc.process, tc.sys)))
			ice, ok := AsInvalid(err)
			require.True(t, ok, "%v", err)
			require.Len(t, ice.Problems, 1, "%v", err)
			assert.Equal(t, tc.wantPath, ice.Problems[0].Path)
			assert.Contains(t, ice.Problems[0].Message, tc.want)
		})
	}
}
