package fleetbench

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/pgtest"
)

// BenchmarkFleet runs the targets of a fleet-sized control plane against
// `phoenix server` (bin/phoenix) on each store: every agent connected and
// online, memory per agent, idle CPU, one assignment to the whole fleet
// (each agent's configuration received, then the API showing every one
// APPLIED), and a restart with the fleet connected.
func BenchmarkFleet(b *testing.B) { onEachStore(b, runFleet) }

// onEachStore runs a scenario against a server on the embedded store and
// on a throwaway PostgreSQL.
func onEachStore(b *testing.B, run func(*testing.B, harness.ServerOptions)) {
	b.Run("store=embedded", func(b *testing.B) {
		for b.Loop() {
			run(b, harness.ServerOptions{ServerID: "bench"})
		}
	})
	b.Run("store=postgres", func(b *testing.B) {
		for b.Loop() {
			run(b, harness.ServerOptions{ServerID: "bench", Store: pgtest.Start(b)})
		}
	})
}

func runFleet(b *testing.B, opts harness.ServerOptions) {
	ctx := b.Context()
	n := agents(b)
	srv := harness.StartServer(b, opts)
	base, err := readMemory(srv.Pid()) // the server with no agent at all
	if err != nil {
		b.Fatal(err)
	}
	ids := filepath.Join(b.TempDir(), "identities.jsonl")
	fleetOpts := fleetsim.Options{Count: n, Server: srv.API, OpAMP: srv.OpAMP, EnrollToken: srv.EnrollToken(),
		Identities: ids, Rate: connectRate, EnrollConcurrency: 32, ApplyDelay: applyDelay, TelemetryInterval: time.Minute}

	// Enrolment is not what is measured: enroll the fleet, then connect it
	// again as a fleet of known agents.
	logf(b, "enrolling %d agents", n)
	enroll, err := fleetsim.Start(ctx, fleetOpts)
	if err != nil {
		b.Fatal(err)
	}
	if err := enroll.WaitConnected(ctx, n); err != nil {
		b.Fatal(err)
	}
	if _, err := enroll.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	waitUntil(b, ctx, "the enrolled fleet offline", time.Second, waitLimit, summaryWhere(srv, nil, onlineCount, nil, 0))

	start := time.Now()
	fleet, err := fleetsim.Start(ctx, fleetOpts)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = fleet.Stop(context.WithoutCancel(ctx)) }()
	waitUntil(b, ctx, "every agent online", 500*time.Millisecond, waitLimit, summaryWhere(srv, fleet, onlineCount, func(s fleetsim.Stats) bool { return s.Connected == n }, n))
	b.ReportMetric(time.Since(start).Seconds(), "online-s")
	time.Sleep(settle)
	connected := memory(b, srv.Pid(), base, n, "")

	idle := idleWindow(b)
	cpu0, _ := readCPU(srv.Pid())
	time.Sleep(idle)
	cpu1, _ := readCPU(srv.Pid())
	b.ReportMetric((cpu1-cpu0).Seconds()*float64(time.Minute)/float64(idle), "idle-cpu-s/min")

	// One pipeline for the whole fleet.
	start = time.Now()
	if _, err := srv.Client().AssignMany(ctx, apitypes.BulkAssignRequest{Selector: fleetsim.FleetLabel + "=" + fleetsim.DefaultFleet,
		AssignRequest: apitypes.AssignRequest{Pipeline: "topk-rollup", Reason: "fleet benchmark"}}); err != nil {
		b.Fatalf("assigning the fleet: %v after %.1f s; the server's last error: %s", err, time.Since(start).Seconds(), lastLine(srv.Log(), "level=ERROR"))
	}
	b.ReportMetric(time.Since(start).Seconds(), "assign-s")
	logf(b, "the server: %s", lastLine(srv.Log(), "assigned matching agents"))
	serverHeard := watchMetric(ctx, srv, `phoenix_config_outcomes_total{status="APPLIED"}`, float64(n), start)
	var fleetApplied time.Duration // when the fleet itself counted every agent APPLIED
	waitUntil(b, ctx, "every agent APPLIED", 500*time.Millisecond, waitLimit, summaryWhere(srv, fleet, appliedCount, func(s fleetsim.Stats) bool {
		if s.Applied == n && fleetApplied == 0 {
			fleetApplied = time.Since(start)
		}
		return s.Applied == n
	}, n))
	b.ReportMetric(time.Since(start).Seconds(), "applied-s")
	b.ReportMetric(fleetApplied.Seconds(), "fleet-applied-s")
	// Where the API's lag behind the fleet comes from: the reports reaching
	// the server's handler late, or their storing.
	select {
	case heard := <-serverHeard:
		logf(b, "every APPLIED report handled by the server %.1f s after the call; the fleet counted them all at %.1f s", heard.Seconds(), fleetApplied.Seconds())
	case <-time.After(time.Minute):
		logf(b, "the server's count of APPLIED reports did not reach %d", n)
	}
	waves := fleet.Waves()
	if len(waves) == 0 || waves[len(waves)-1].Received < n {
		b.Fatalf("not every agent received the configuration: %+v", waves)
	}
	w := waves[len(waves)-1]
	lead := w.Start.Sub(start)
	b.ReportMetric((lead + w.ReceivedP50).Seconds(), "received-p50-s")
	b.ReportMetric((lead + w.ReceivedP99).Seconds(), "received-p99-s")

	// A restart with the fleet connected: everything comes back, in no
	// more memory than the same fleet and store held before it.
	time.Sleep(settle)
	before := memory(b, srv.Pid(), procMemory{}, n, "prerestart-")
	liveBefore := liveHeap(b, srv, "prerestart-")
	srv.Stop()
	start = time.Now()
	srv.Restart()
	waitUntil(b, ctx, "every agent online after the restart", 500*time.Millisecond, waitLimit, summaryWhere(srv, fleet, onlineCount, func(s fleetsim.Stats) bool { return s.Connected == n }, n))
	b.ReportMetric(time.Since(start).Seconds(), "restart-online-s")
	waitUntil(b, ctx, "every agent still APPLIED after the restart", time.Second, waitLimit, summaryWhere(srv, fleet, appliedCount, func(s fleetsim.Stats) bool { return s.Applied == n }, n))
	time.Sleep(settle)
	restarted := memory(b, srv.Pid(), procMemory{}, n, "restart-")
	liveAfter := liveHeap(b, srv, "restart-")
	logf(b, "resident memory (anonymous): %d (%d) MiB with %d agents connected, %d (%d) MiB with them APPLIED before the restart, %d (%d) MiB after it; live heap %d MiB before, %d MiB after",
		connected.rss>>20, connected.anon>>20, n, before.rss>>20, before.anon>>20, restarted.rss>>20, restarted.anon>>20, liveBefore>>20, liveAfter>>20)
}

// liveHeapWindow is how long liveHeap watches: longer than the two minutes
// after which the Go runtime collects garbage even in an idle process.
const liveHeapWindow = 130 * time.Second

// liveHeap reports what the server holds: the least heap in use
// (go_memstats_heap_alloc_bytes on its /metrics) over liveHeapWindow,
// which is the heap just after a collection. Resident memory also counts
// garbage not yet collected and pages not yet returned, so after a surge of
// messages (the fleet applying, or reconnecting) it says more about when
// the last collection ran than about what is held. Then it reports the
// goroutine stacks and the resident memory again, collections since.
func liveHeap(b *testing.B, srv *harness.Server, prefix string) uint64 {
	least := -1.0
	for end := time.Now().Add(liveHeapWindow); time.Now().Before(end); time.Sleep(time.Second) {
		if v := srv.Metric("go_memstats_heap_alloc_bytes"); v >= 0 && (least < 0 || v < least) {
			least = v
		}
	}
	if least < 0 {
		b.Fatal("the server's /metrics has no go_memstats_heap_alloc_bytes")
	}
	b.ReportMetric(least/(1<<20), prefix+"live-MiB")
	// Goroutine stacks are outside the heap: two per connection, grown by
	// the deepest message each handled, and shrunk only by collections.
	b.ReportMetric(srv.Metric("go_memstats_stack_inuse_bytes")/(1<<20), prefix+"stacks-MiB")
	if m, err := readMemory(srv.Pid()); err == nil {
		b.ReportMetric(float64(m.rss>>20), prefix+"settled-rss-MiB")
		b.ReportMetric(float64(m.anon>>20), prefix+"settled-anon-MiB")
	}
	return uint64(least)
}

// memory reports the server's resident memory per agent above base.
func memory(b *testing.B, pid int, base procMemory, n int, prefix string) procMemory {
	m, err := readMemory(pid)
	if err != nil {
		b.Fatal(err)
	}
	if prefix == "" {
		b.ReportMetric(perAgentKiB(m.rss, base.rss, n), "KiB/agent")
		b.ReportMetric(perAgentKiB(m.anon, base.anon, n), "anon-KiB/agent")
	}
	b.ReportMetric(float64(m.rss>>20), prefix+"rss-MiB")
	b.ReportMetric(float64(m.anon>>20), prefix+"anon-MiB")
	return m
}

// summaryWhere is a condition on what the API's agent summary shows:
// count of it is want. The fleet's own view is checked first, so the API is
// only asked once the simulator has seen it happen. This is how a user
// follows a fleet-wide change.
func summaryWhere(srv *harness.Server, fleet *fleetsim.Fleet, count func(apitypes.AgentSummary) int, fleetDone func(fleetsim.Stats) bool, want int) func() (bool, string) {
	return func() (bool, string) {
		if fleet != nil && !fleetDone(fleet.Stats()) {
			return false, "the simulated fleet is not there yet"
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		sum, err := srv.Client().AgentSummary(ctx, apiclient.ListAgentsOptions{})
		if err != nil {
			return false, err.Error()
		}
		got := count(sum)
		return got == want, fmt.Sprintf("%d of %d agents, counted in %.2f s", got, want, time.Since(start).Seconds())
	}
}

func onlineCount(s apitypes.AgentSummary) int  { return s.Online }
func appliedCount(s apitypes.AgentSummary) int { return s.Progress[apitypes.DriftApplied] }

// agentsWhere pages through every agent and reports whether match holds
// for want of them: a check of each agent, where a count is not enough.
func agentsWhere(srv *harness.Server, match func(apitypes.AgentView) bool, want int) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	agents, err := srv.Client().AllAgents(ctx, apiclient.ListAgentsOptions{Limit: 1000})
	if err != nil {
		return false, err.Error()
	}
	n := 0
	for _, a := range agents {
		if match(a) {
			n++
		}
	}
	return n == want, fmt.Sprintf("%d of %d agents", n, want)
}

func applied(a apitypes.AgentView) bool {
	return a.RemoteConfig.Status == apitypes.ConfigStatusApplied && a.Assignment != nil && a.RemoteConfig.Hash == a.Assignment.ConfigHash
}

// watchMetric reports, once, how long after start the server's metric
// (a counter, summed over its label sets unless name selects some) reached
// want; 0 when ctx ends first.
func watchMetric(ctx context.Context, srv *harness.Server, name string, want float64, start time.Time) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() {
		defer close(out)
		for ctx.Err() == nil {
			if srv.Metric(name) >= want {
				out <- time.Since(start)
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	return out
}

// lastLine is the last line of log that holds msg, or "" for none.
func lastLine(log, msg string) string {
	lines := strings.Split(log, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], msg) {
			return lines[i]
		}
	}
	return ""
}
