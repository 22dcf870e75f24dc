// Package chain runs the built phoenix-collector with Phoenix's whole
// processor chain (process_critical → process_topk → process_rollup →
// cost_meter) over this host's real processes, scraped by the real
// host_metrics process scraper, and checks what it exports and what the
// processz extension explains.
package chain

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/test/testenv"
)

const (
	// k is process_topk's k: with rank_by [cpu] it keeps the k busiest
	// processes, and its default max_kept is 2 × k.
	k       = 5
	maxKept = 2 * k
	// idleProcesses is the idle crowd the rollup must fold away.
	idleProcesses = 30
	// exports is how many scrapes (one per second) the test reads;
	// warmUp of them are left out of the checks that need rates and
	// hysteresis to settle: a process first ranks by its lifetime average,
	// and a process once kept is held for exit_after − 1 more scrapes.
	exports = 9
	warmUp  = 4
	// criticalRule is the process_critical rule matching the critical
	// process.
	criticalRule = "critical-db"
)

// Names of the processes the test starts (at most 15 characters, Linux's
// limit on a process name).
const (
	criticalName = "phx-critical-db"
	busyName     = "phx-busy-%d"
	idleName     = "phx-idle"
)

// ports are the collector's listening ports, on 127.0.0.1.
type ports struct{ health, processz, telemetry int }

func freePorts(t *testing.T) ports {
	t.Helper()
	var p [3]int
	for i := range p {
		port, err := localrun.FreePort()
		require.NoError(t, err)
		p[i] = port
	}
	return ports{health: p[0], processz: p[1], telemetry: p[2]}
}

func collectorConfig(p ports, out string) string {
	return fmt.Sprintf(`
extensions:
  health_check:
    endpoint: 127.0.0.1:%[1]d
  processz:
    endpoint: 127.0.0.1:%[2]d
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
      - name: %[4]s
        executable_name: %[5]s
  process_topk:
    k: %[6]d
    rank_by: [cpu]
    others: rollup
  process_rollup: {}
  cost_meter:
    variant: chain
    critical:
      - name: %[4]s
        executable_name: %[5]s
exporters:
  file:
    path: %[7]s
service:
  extensions: [health_check, processz]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: %[3]d
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_critical, process_topk, process_rollup, cost_meter]
      exporters: [file]
`, p.health, p.processz, p.telemetry, criticalRule, criticalName, k, out)
}

// requireComponents fails unless the collector was built with every
// component the test configures.
func requireComponents(t *testing.T, bin string, names ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := runOutput(ctx, bin, "components")
	require.NoError(t, err)
	for _, name := range names {
		require.Contains(t, out, "name: "+name+"\n", "%s was built without %s: run `make build`", bin, name)
	}
}

func TestChainOnRealProcesses(t *testing.T) {
	bin := testenv.Binary(t, "phoenix-collector")
	requireComponents(t, bin, "host_metrics", "process_critical", "process_topk", "process_rollup", "cost_meter", "processz", "file", "health_check")

	dir := t.TempDir()
	critical := copyProgram(t, dir, "/bin/sleep", criticalName).start(t, "600")
	var busy []*os.Process
	for i := 1; i <= 2; i++ {
		// A shell spinning in a loop: one core's worth of CPU, if it gets it.
		busy = append(busy, copyProgram(t, dir, "/bin/sh", fmt.Sprintf(busyName, i)).start(t, "-c", "while :; do :; done"))
	}
	idleProgram := copyProgram(t, dir, "/bin/sleep", idleName)
	idle := map[int64]bool{}
	for range idleProcesses {
		idle[int64(idleProgram.start(t, "600").Pid)] = true
	}

	p := freePorts(t)
	out := filepath.Join(dir, "out.jsonl")
	col, err := localrun.Start(localrun.Options{
		Binary: bin, ConfigPath: testenv.WriteFile(t, dir, "collector.yaml", collectorConfig(p, out)),
		HealthURL: fmt.Sprintf("http://127.0.0.1:%d/", p.health),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = col.Stop(5 * time.Second) })
	// Every wait is bounded so that the whole test stays under a minute even
	// when it fails: 15 s to start, 20 s for the exports, 10 s for processz,
	// 5 s for the own metrics and 5 s to stop.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	require.NoError(t, col.WaitHealthy(ctx))
	require.Eventually(t, func() bool { return countLines(out) >= exports },
		20*time.Second, 200*time.Millisecond, "fewer than %d exports in %s; log:\n%s", exports, out, col.Log())

	// While the collector runs: what processz explains and cost_meter counts.
	checkProcessz(t, p.processz, int64(critical.Pid), int64(busy[0].Pid), idle)
	checkCostMeter(t, p.telemetry)

	require.NoError(t, col.Stop(5*time.Second), "collector did not shut down cleanly; log:\n%s", col.Log())
	assert.Contains(t, col.Log(), "Shutdown complete")

	batches := readExports(t, out)
	require.GreaterOrEqual(t, len(batches), exports)
	for i, b := range batches {
		n := i + 1
		assert.Contains(t, b.processes, int64(critical.Pid), "export %d: the critical process is missing", n)
		assert.Equal(t, criticalName, b.processes[int64(critical.Pid)], "export %d", n)
		assert.LessOrEqual(t, len(b.processes), maxKept+1, "export %d: %d processes exported, the bound is max_kept %d + 1 critical", n, len(b.processes), maxKept)
		assert.Empty(t, b.phoenixAttributes, "export %d: Phoenix's markers leaked", n)
		if n <= warmUp {
			continue
		}
		for _, proc := range busy {
			assert.Contains(t, b.processes, int64(proc.Pid), "export %d: busy process %d not kept; exported: %v", n, proc.Pid, b.processes)
		}
		rolledUp := 0
		for pid := range idle {
			if _, kept := b.processes[pid]; !kept {
				rolledUp++
			}
		}
		// An idle process ranks in the top k only on a host where fewer than
		// k processes use any CPU at all.
		assert.GreaterOrEqual(t, rolledUp, idleProcesses-k, "export %d: the idle crowd was not rolled up", n)
		if assert.Len(t, b.aggregates, 1, "export %d: one rollup resource", n) {
			agg := b.aggregates[0]
			assert.Equal(t, "_other", agg.executable, "export %d", n)
			assert.GreaterOrEqual(t, agg.processCount, int64(rolledUp), "export %d: the rollup must count the rolled-up idle processes", n)
			assert.GreaterOrEqual(t, int64(len(b.processes))+agg.processCount, int64(1+len(busy)+idleProcesses),
				"export %d: the processes exported and rolled up must include every process the test started", n)
		}
	}
	t.Logf("%d exports; the last exported %d processes of its own and one rollup of %d processes",
		len(batches), len(batches[len(batches)-1].processes), lastCount(batches))
}

func lastCount(batches []export) int64 {
	if aggs := batches[len(batches)-1].aggregates; len(aggs) > 0 {
		return aggs[0].processCount
	}
	return 0
}

// countLines counts the complete lines of a file; 0 when it cannot be read.
func countLines(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return strings.Count(string(data), "\n")
}

// sortedPIDs lists a set's PIDs in order, for messages.
func sortedPIDs(set map[int64]bool) []int64 {
	pids := make([]int64, 0, len(set))
	for pid := range set {
		pids = append(pids, pid)
	}
	slices.Sort(pids)
	return pids
}
