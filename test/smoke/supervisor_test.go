package smoke

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/agentidentity"
	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/test/filesummary"
	"github.com/phoenix/platform/test/testenv"
)

// loadExample reads one of the example files in deployments/supervisor.
func loadExample(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "deployments", "supervisor", name))
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	return doc
}

func writeYAML(t *testing.T, path string, doc map[string]any) {
	t.Helper()
	raw, err := yaml.Marshal(doc)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, raw, 0o600))
}

// TestSupervisorRunsTheCollector starts bin/opampsupervisor with the example
// configuration from deployments/supervisor, pointed at temporary paths and at
// an OpAMP endpoint nobody listens on: the supervisor must start the collector
// on its startup fallback configuration, and take it down when it stops.
func TestSupervisorRunsTheCollector(t *testing.T) {
	dir := t.TempDir()
	healthPort, err := localrun.FreePort()
	require.NoError(t, err)
	deadPort, err := localrun.FreePort()
	require.NoError(t, err)
	out := filepath.Join(dir, "out.jsonl")

	col := loadExample(t, "collector.yaml")
	col["extensions"].(map[string]any)["health_check"] = map[string]any{"endpoint": fmt.Sprintf("127.0.0.1:%d", healthPort)}
	col["exporters"] = map[string]any{"file": map[string]any{"path": out}}
	col["receivers"].(map[string]any)["host_metrics"].(map[string]any)["collection_interval"] = "1s"
	pipelines := col["service"].(map[string]any)["pipelines"].(map[string]any)
	pipelines["metrics"].(map[string]any)["exporters"] = []any{"file"}
	colPath := filepath.Join(dir, "collector.yaml")
	writeYAML(t, colPath, col)

	sup := loadExample(t, "supervisor.yaml")
	sup["server"].(map[string]any)["endpoint"] = fmt.Sprintf("ws://127.0.0.1:%d/v1/opamp", deadPort)
	agent := sup["agent"].(map[string]any)
	agent["executable"] = testenv.Binary(t, "phoenix-collector")
	agent["startup_fallback_configs"] = []any{colPath}
	sup["storage"].(map[string]any)["directory"] = filepath.Join(dir, "storage")
	supPath := filepath.Join(dir, "supervisor.yaml")
	writeYAML(t, supPath, sup)
	// The example reads the agent's identity where `phoenix agent enroll`
	// writes it: here, an identity in dir.
	identity := filepath.Join(dir, "identity")
	require.NoError(t, agentidentity.Write(identity, agentidentity.Identity{
		InstanceUID: "0190f5c2-7f3a-7c1e-9a55-2b1f3c4d5e6f", Token: "phxa_smoke"}))
	raw, err := os.ReadFile(supPath)
	require.NoError(t, err)
	moved := strings.ReplaceAll(string(raw), "${file:/var/lib/phoenix/agent/", "${file:"+identity+"/")
	require.NotEqual(t, string(raw), moved, "the example reads /var/lib/phoenix/agent")
	require.NoError(t, os.WriteFile(supPath, []byte(moved), 0o600))

	cmd := exec.Command(testenv.Binary(t, "opampsupervisor"), "--config", supPath)
	logPath := filepath.Join(dir, "supervisor.log")
	logFile, err := os.Create(logPath)
	require.NoError(t, err)
	defer logFile.Close()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	supLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }

	require.Eventually(t, func() bool {
		s, err := filesummary.ReadFile(out, nil)
		return err == nil && s.Exports >= 2 && s.Processes > 1
	}, 60*time.Second, 250*time.Millisecond, "no process metrics from the supervised collector; supervisor log:\n%s", supLog())

	pid := collectorPID(t, dir)
	require.NotZero(t, pid, "collector process not found")

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("supervisor did not stop on SIGTERM; log:\n%s", supLog())
	}
	assert.Eventually(t, func() bool { return !alive(pid) }, 15*time.Second, 100*time.Millisecond,
		"collector (pid %d) outlived its supervisor", pid)
}

// collectorPID finds the phoenix-collector started with a config from dir's
// supervisor storage.
func collectorPID(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	require.NoError(t, err)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if strings.HasSuffix(args[0], "phoenix-collector") && strings.Contains(string(cmdline), dir) {
			return pid
		}
	}
	return 0
}

func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; only its parent has yet to reap it.
	fields := strings.Fields(string(stat))
	return len(fields) > 2 && fields[2] != "Z"
}
