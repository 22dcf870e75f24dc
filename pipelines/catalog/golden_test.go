package catalog

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Regenerating goldens is deliberate, and fails the run so it is never left on:
//
//	go test ./pipelines/catalog -run Golden -update
var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the rendered output")

// TestGoldenDefaults pins every pipeline's configuration with default
// parameters, and paired configurations with one and with three candidates:
// a change to a template shows up as a reviewed diff.
func TestGoldenDefaults(t *testing.T) {
	c := shipped(t)
	for _, p := range c.List() {
		t.Run(p.Name, func(t *testing.T) {
			r, err := c.Render(t.Context(), p.Name, nil)
			require.NoError(t, err)
			compareGolden(t, p.Name, r.Config)
		})
	}
	t.Run("paired", func(t *testing.T) {
		r, err := c.RenderPaired(t.Context(), PairedSpec{Baseline: Ref{Pipeline: "baseline"}, Candidate: Ref{Pipeline: "topk-rollup"}})
		require.NoError(t, err)
		compareGolden(t, "paired-baseline-topk-rollup", r.Config)
	})
	t.Run("paired-candidates", func(t *testing.T) {
		r, err := c.RenderPaired(t.Context(), threeCandidates)
		require.NoError(t, err)
		compareGolden(t, "paired-baseline-three-candidates", r.Config)
	})
	// What the server renders for a Kubernetes DaemonSet agent: its own
	// telemetry parameters plus the labels of
	// deployments/kubernetes/base/config/supervisor.yaml.
	t.Run("daemonset", func(t *testing.T) {
		r, err := c.Render(t.Context(), "topk-rollup", map[string]any{
			"root_path":                     "/hostfs",
			"telemetry_prometheus_endpoint": "0.0.0.0:8888",
			"health_check_endpoint":         "0.0.0.0:13133",
			"telemetry_endpoint":            "http://phoenix-server:8080/v1/metrics",
			"telemetry_token_env":           "PHOENIX_AGENT_TOKEN",
			"instance_id":                   "0190f5c2-7f3a-7c1e-9a55-2b1f3c4d5e6f",
		})
		require.NoError(t, err)
		compareGolden(t, "daemonset-topk-rollup", r.Config)
	})
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden.yaml")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, got, 0o600))
		t.Errorf("updated %s: review the diff, then run the tests without -update", path)
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file: run with -update once to create it")
	assert.Equal(t, string(want), string(got), "rendered configuration differs from %s", path)
}
