// Package smoke runs the built phoenix-collector with real configurations on
// this host: the first thing CI checks after the build.
package smoke

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/test/filesummary"
	"github.com/phoenix/platform/test/testenv"
)

// selfRule marks this test binary's own process critical, so the test knows
// one process the real scraper must report and the processors must mark.
var selfRule = criticalrules.Rule{Name: "self", ExecutableName: regexpQuote(filepath.Base(os.Args[0]))}

func regexpQuote(s string) string {
	return strings.NewReplacer(".", `\.`, "+", `\+`).Replace(s)
}

func collectorConfig(healthPort int, out string) string {
	return fmt.Sprintf(`
extensions:
  health_check:
    endpoint: 127.0.0.1:%d
receivers:
  host_metrics:
    collection_interval: 1s
    scrapers:
      process:
        mute_process_exe_error: true
        mute_process_io_error: true
        mute_process_user_error: true
        mute_process_name_error: true
processors:
  process_critical:
    rules:
      - name: %s
        executable_name: '%s'
exporters:
  file:
    path: %s
service:
  extensions: [health_check]
  telemetry:
    metrics:
      level: none
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_critical]
      exporters: [file]
`, healthPort, selfRule.Name, selfRule.ExecutableName, out)
}

// waitForExports polls the file exporter's output until it holds n exports.
func waitForExports(t *testing.T, col *localrun.Collector, path string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s, err := filesummary.ReadFile(path, nil)
		return err == nil && s.Exports >= n
	}, 30*time.Second, 200*time.Millisecond, "collector wrote fewer than %d exports to %s; log:\n%s", n, path, col.Log())
}

func TestCollectorExportsRealProcessMetrics(t *testing.T) {
	dir := t.TempDir()
	port, err := localrun.FreePort()
	require.NoError(t, err)
	out := filepath.Join(dir, "out.jsonl")
	cfg := testenv.WriteFile(t, dir, "collector.yaml", collectorConfig(port, out))

	col, err := localrun.Start(localrun.Options{
		Binary: testenv.Binary(t, "phoenix-collector"), ConfigPath: cfg,
		HealthURL: fmt.Sprintf("http://127.0.0.1:%d/", port),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = col.Stop(5 * time.Second) })

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, col.WaitHealthy(ctx))
	waitForExports(t, col, out, 2)
	require.NoError(t, col.Stop(10*time.Second), "collector did not shut down cleanly; log:\n%s", col.Log())
	assert.Contains(t, col.Log(), "Shutdown complete")

	matcher, err := criticalrules.Compile(criticalrules.Rules{selfRule})
	require.NoError(t, err)
	s, err := filesummary.ReadFile(out, matcher)
	require.NoError(t, err)
	assert.Greater(t, s.Processes, 1, "the process scraper should see more than one process")
	assert.Equal(t, 1, s.CriticalProcesses[selfRule.Name], "this test's own process must be exported")
	for _, m := range []string{"process.cpu.time", "process.memory.usage", "process.memory.virtual"} {
		assert.Positive(t, s.Metrics[m], "no %s datapoints", m)
	}

	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	marker := fmt.Sprintf(`{"key":"phoenix.critical.rule","value":{"stringValue":"%s"}}`, selfRule.Name)
	assert.Contains(t, string(raw), marker, "process_critical did not mark this test's process")
}

func TestCollectorRejectsInvalidConfigNamingTheKey(t *testing.T) {
	dir := t.TempDir()
	cfg := testenv.WriteFile(t, dir, "bad.yaml", `
receivers:
  host_metrics:
    scrapers:
      process: {}
processors:
  process_critical:
    rules:
      - name: db
        executable_nmae: postgres
exporters:
  nop: {}
service:
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_critical]
      exporters: [nop]
`)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, testenv.Binary(t, "phoenix-collector"), "--config", cfg).CombinedOutput()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "collector should exit non-zero; output:\n%s", out)
	assert.NotZero(t, exitErr.ExitCode())
	assert.Contains(t, string(out), "executable_nmae")
	assert.Contains(t, string(out), "process_critical")
}
