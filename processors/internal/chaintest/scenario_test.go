package chaintest

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/ledger"
	"github.com/phoenix/platform/processors/processcritical"
	"github.com/phoenix/platform/processors/processrollup"
	"github.com/phoenix/platform/processors/processtopk"
)

// processTable is a hand-driven process table: what a scenario needs that
// the simulator never does (a critical process exiting, an exec).
type processTable struct {
	procs map[int64]*processmetrics.Process
	cores map[int64]float64 // CPU use of each process, in cores
}

func (pt *processTable) start(pid int64, exe string, born time.Time, cores float64, rssMB int64) {
	pt.procs[pid] = &processmetrics.Process{
		PID: pid, ParentPID: 1, ExecutableName: exe, ExecutablePath: "/usr/bin/" + exe,
		Command: exe, CommandLine: "/usr/bin/" + exe, Owner: "app",
		Start: pcommon.NewTimestampFromTime(born), MemoryRSS: rssMB << 20, MemoryVirtual: 4 * rssMB << 20,
	}
	pt.cores[pid] = cores
}

func (pt *processTable) exit(pid int64) {
	delete(pt.procs, pid)
	delete(pt.cores, pid)
}

// exec replaces a process's program: same PID and start time, new identity.
func (pt *processTable) exec(pid int64, exe string) {
	p := pt.procs[pid]
	p.ExecutableName, p.ExecutablePath, p.Command, p.CommandLine = exe, "/usr/bin/"+exe, exe, "/usr/bin/"+exe
}

// scrape grows every process's counters by dt and renders the table at at,
// in PID order.
func (pt *processTable) scrape(at time.Time, dt time.Duration) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, pid := range slices.Sorted(maps.Keys(pt.procs)) {
		p := pt.procs[pid]
		cpu := pt.cores[pid] * dt.Seconds()
		p.CPUUser += 0.7 * cpu
		p.CPUSystem += 0.3 * cpu
		p.DiskRead += int64(cpu * 65536)
		p.AppendTo(md.ResourceMetrics(), pcommon.NewTimestampFromTime(at))
	}
	return md
}

// TestChainFollowsPIDReuseAndExec walks the chain through what changes a
// process's criticality under a known PID: a critical process exits and its
// PID is reused by an ordinary one, an ordinary process execs a critical
// program, a critical program comes back under its old PID. Every scrape,
// exactly the processes the rules match now are exported as critical, the
// others are ranked or rolled up as usual, and counter totals are conserved
// across each change of side.
func TestChainFollowsPIDReuseAndExec(t *testing.T) {
	const (
		postgresThenBash = 100 // postgres exits after scrape 3; bash takes its PID at scrape 4
		bashThenPostgres = 200 // bash, rolled up, execs postgres at scrape 5
		nginxTwice       = 300 // nginx exits after scrape 3; another nginx takes its PID at scrape 6
	)
	pt := &processTable{procs: map[int64]*processmetrics.Process{}, cores: map[int64]float64{}}
	long := t0.Add(-time.Hour)
	// Sixty workers with distinct CPU and memory fill the top k; the
	// scenario's non-critical processes use less of both, so they are
	// rolled up.
	for i := range int64(60) {
		pt.start(1000+i, "worker", long, 0.01*float64(i+1), 10+i)
	}
	pt.start(postgresThenBash, "postgres", long, 0.2, 500)
	pt.start(bashThenPostgres, "bash", long, 0.001, 1)
	pt.start(nginxTwice, "nginx", long, 0.05, 50)

	events := map[int]func(at time.Time){
		4: func(at time.Time) {
			pt.exit(postgresThenBash)
			pt.exit(nginxTwice)
			pt.start(postgresThenBash, "bash", at.Add(-4*time.Second), 0.001, 1)
		},
		5: func(time.Time) { pt.exec(bashThenPostgres, "postgres") },
		6: func(at time.Time) { pt.start(nginxTwice, "nginx", at.Add(-2*time.Second), 0.05, 50) },
	}
	// wantCritical is, per scrape, the critical PIDs and their rules.
	wantCritical := func(n int) map[int64]string {
		switch {
		case n <= 3:
			return map[int64]string{postgresThenBash: "databases", nginxTwice: "web-servers"}
		case n == 4:
			return map[int64]string{}
		case n == 5:
			return map[int64]string{bashThenPostgres: "databases"}
		default:
			return map[int64]string{bashThenPostgres: "databases", nginxTwice: "web-servers"}
		}
	}

	sink := &consumertest.MetricsSink{}
	c := newChain(t, chainOptions{topk: topkRollup, record: true}, sink)
	matcher := criticalMatcher(t)
	var in, out ledger.Ledger
	for n := 1; n <= 8; n++ {
		t.Run(fmt.Sprintf("scrape_%d", n), func(t *testing.T) {
			at := scrapeAt(n)
			if event := events[n]; event != nil {
				event(at)
			}
			input, output := c.feed(t, sink, pt.scrape(at, scrapeInterval))

			inB, outB := indexBatch(input), indexBatch(output)
			critical := inB.critical(matcher)
			checkExported(t, n, inB, outB, critical)
			checkDecisions(t, n, c, inB, outB, critical, processtopk.OthersRollup)
			assert.Equal(t, len(inB.procs), len(outB.procs)+outB.rolledUp(), "every process exported or rolled up")
			assert.Empty(t, phoenixAttributes(output))
			now := pcommon.NewTimestampFromTime(at)
			checkConservation(t, n, in.Increments(counterSnapshot(input), now), out.Increments(counterSnapshot(output), now))

			gotCritical := map[int64]string{}
			for key, rec := range c.decisions.outcomes(processcritical.NewFactory().Type()) {
				gotCritical[key.PID] = rec.Rule
			}
			assert.Equal(t, wantCritical(n), gotCritical, "critical processes and their rules")
			exported := map[int64]bool{}
			for id := range outB.procs {
				exported[id.key.PID] = true
			}
			for pid := range wantCritical(n) {
				assert.True(t, exported[pid], "critical pid %d not exported", pid)
			}
			rolledUp := c.decisions.outcomes(processrollup.NewFactory().Type())
			for _, pid := range []int64{postgresThenBash, bashThenPostgres} {
				if _, critical := wantCritical(n)[pid]; critical || pt.procs[pid] == nil {
					continue
				}
				assert.False(t, exported[pid], "pid %d (%s) must be rolled up", pid, pt.procs[pid].ExecutableName)
				assert.Equal(t, decision.RolledUp, rolledUp[processmetrics.Key{PID: pid}].Outcome, "pid %d", pid)
			}
		})
	}
}
