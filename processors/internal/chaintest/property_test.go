package chaintest

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/ledger"
	"github.com/phoenix/platform/processors/processcritical"
	"github.com/phoenix/platform/processors/processrollup"
	"github.com/phoenix/platform/processors/processtopk"
	"github.com/phoenix/platform/receivers/processsim/population"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// scrapes is how many scrapes each population is driven through.
const scrapes = 20

// maxSeriesFraction bounds the chain's output series per scrape as a
// fraction of its input's, on the populations of thousands of processes
// below.
const maxSeriesFraction = 0.05

// churnSpec is a crowded host with heavy churn (250 starts per scrape) and a
// PID space only 10% larger than the population, so PIDs come back within a
// scrape or two. Its first daemons carry names process_critical's default
// rules match.
func churnSpec(processes int, cpuMode bool) population.Spec {
	return population.Spec{
		Processes: processes, Daemons: 40,
		CriticalNames:   []string{"postgres", "nginx", "sshd", "kubelet", "redis-server"},
		StartsPerSecond: 25, BusyFraction: 0.08, BusyCores: 2, IdleCores: 0.02, CPUNoise: 0.3,
		PIDMax: int64(processes) * 11 / 10, CPUModeAttr: cpuMode,
	}
}

// profileSpec resolves a shipped load-simulation profile.
func profileSpec(t *testing.T, name string, seed uint64) population.Spec {
	t.Helper()
	p, err := profiles.Get(name)
	require.NoError(t, err)
	r, err := p.Resolve(seed)
	require.NoError(t, err)
	return r.Spec
}

// populationCase is one kind of input the chain is driven with: hosts of
// one population spec, all scraped into each batch (several hosts in one
// batch is what a gateway collector sees).
type populationCase struct {
	name string
	// hosts are the host.name of each host; "" for none, as with a local
	// scraper and no resource_detection.
	hosts []string
	spec  func(t *testing.T, seed uint64) population.Spec
	// reusesPIDs says the populations must reuse PIDs within the run.
	reusesPIDs bool
}

var populationCases = []populationCase{
	{
		name: "churn_pid_reuse", hosts: []string{""}, reusesPIDs: true,
		spec: func(*testing.T, uint64) population.Spec { return churnSpec(2000, false) },
	},
	{
		name: "cpu_mode_two_hosts", hosts: []string{"db-1", "db-2"}, reusesPIDs: true,
		spec: func(*testing.T, uint64) population.Spec { return churnSpec(1000, true) },
	},
	{
		name: "profile_high_cardinality", hosts: []string{"web-1"},
		spec: func(t *testing.T, seed uint64) population.Spec { return profileSpec(t, "high-cardinality", seed) },
	},
}

// fleet is the hosts of a populationCase.
type fleet []*simHost

func newFleet(t *testing.T, pc populationCase, seed uint64) fleet {
	t.Helper()
	f := make(fleet, len(pc.hosts))
	for i, name := range pc.hosts {
		// Hosts of one spec differ by seed, but their PIDs overlap: only
		// host.name tells their processes apart.
		f[i] = newSimHost(t, name, pc.spec(t, seed), 10*seed+uint64(i))
	}
	return f
}

// scrape renders every host at at into one batch.
func (f fleet) scrape(at time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, h := range f {
		h.scrape(at).ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	}
	return md
}

func (f fleet) pidReuses() int {
	n := 0
	for _, h := range f {
		n += h.pop.Stats().PIDReuses
	}
	return n
}

func seeds() []uint64 {
	if testing.Short() {
		return []uint64{1}
	}
	return []uint64{1, 2, 3}
}

func criticalMatcher(t *testing.T) *criticalrules.Matcher {
	t.Helper()
	m, err := criticalrules.Compile(processcritical.DefaultRules())
	require.NoError(t, err)
	return m
}

// TestChainWithRollupOverRandomPopulations drives the chain with others:
// rollup scrape after scrape and checks, every scrape: each critical process
// is exported as its own, unchanged resource; at most max_kept other
// processes per host are; every input process is either exported or counted in a
// rollup; the decision records agree with the output; per bucket, the output's
// counter increments equal the input's; rollup counters never decrease and
// keep their start time; no phoenix.* attribute leaves the chain. Over the
// run the output's series are a small fraction of the input's, and cost_meter
// measured exactly what the chain exported.
func TestChainWithRollupOverRandomPopulations(t *testing.T) {
	matcher := criticalMatcher(t)
	for _, pc := range populationCases {
		for _, seed := range seeds() {
			t.Run(fmt.Sprintf("%s/seed=%d", pc.name, seed), func(t *testing.T) {
				sink := &consumertest.MetricsSink{}
				c := newChain(t, chainOptions{topk: topkRollup, record: true}, sink)
				hosts := newFleet(t, pc, seed)

				var in, out ledger.Ledger
				rollupPoints := ledger.Snapshot{}
				var totals runTotals
				for n := 1; n <= scrapes; n++ {
					at := scrapeAt(n)
					input, output := c.feed(t, sink, hosts.scrape(at))

					inB, outB := indexBatch(input), indexBatch(output)
					critical := inB.critical(matcher)
					require.NotEmpty(t, critical, "scrape %d: the population has no critical process", n)
					checkExported(t, n, inB, outB, critical)
					checkDecisions(t, n, c, inB, outB, critical, processtopk.OthersRollup)
					assert.Equal(t, len(inB.procs), len(outB.procs)+outB.rolledUp(),
						"scrape %d: every input process must be exported or counted in a rollup", n)
					if assert.Len(t, outB.aggregates, len(hosts), "scrape %d: one rollup per host", n) {
						for _, agg := range outB.aggregates {
							assert.Positive(t, processCount(agg), "scrape %d", n)
						}
					}
					assert.Empty(t, phoenixAttributes(output), "scrape %d: markers leaked", n)

					now := pcommon.NewTimestampFromTime(at)
					checkConservation(t, n, in.Increments(counterSnapshot(input), now), out.Increments(counterSnapshot(output), now))
					checkRollupsMonotonic(t, n, rollupPoints, rollupSnapshot(output))
					totals.add(inB, outB, critical)
				}
				if pc.reusesPIDs {
					assert.Positive(t, hosts.pidReuses(), "the populations must reuse PIDs")
				}
				totals.check(t, c)
			})
		}
	}
}

// TestChainWithDropOverRandomPopulations drives the chain with others: drop:
// critical processes are still exported unchanged, the kept set stays within
// max_kept, nothing is rolled up, and no marker survives process_topk's
// stripping.
func TestChainWithDropOverRandomPopulations(t *testing.T) {
	matcher := criticalMatcher(t)
	for _, pc := range populationCases {
		seed := seeds()[0]
		t.Run(fmt.Sprintf("%s/seed=%d", pc.name, seed), func(t *testing.T) {
			sink := &consumertest.MetricsSink{}
			c := newChain(t, chainOptions{topk: topkDrop, record: true}, sink)
			hosts := newFleet(t, pc, seed)
			var totals runTotals
			for n := 1; n <= scrapes; n++ {
				input, output := c.feed(t, sink, hosts.scrape(scrapeAt(n)))

				inB, outB := indexBatch(input), indexBatch(output)
				critical := inB.critical(matcher)
				require.NotEmpty(t, critical, "scrape %d: the population has no critical process", n)
				checkExported(t, n, inB, outB, critical)
				checkDecisions(t, n, c, inB, outB, critical, processtopk.OthersDrop)
				assert.Empty(t, outB.aggregates, "scrape %d: drop mode must not roll up", n)
				assert.Empty(t, phoenixAttributes(output), "scrape %d: markers leaked", n)
				totals.add(inB, outB, critical)
			}
			totals.check(t, c)
		})
	}
}

// checkExported checks the processes a scrape's output carries as their own
// resources: every critical process, at most max_kept others per host, each
// exactly as it came in.
func checkExported(t *testing.T, n int, in, out batch, critical map[procID]string) {
	t.Helper()
	for id, rule := range critical {
		assert.Contains(t, out.procs, id, "scrape %d: critical process %v (rule %s) not exported", n, id, rule)
	}
	exported, criticalPerHost := map[string]int{}, map[string]int{}
	for id := range out.procs {
		exported[id.key.Host]++
	}
	for id := range critical {
		criticalPerHost[id.key.Host]++
	}
	for host, got := range exported {
		assert.LessOrEqual(t, got, maxKept+criticalPerHost[host],
			"scrape %d: host %q exports %d processes, the bound is max_kept %d + %d critical", n, host, got, maxKept, criticalPerHost[host])
	}
	for id, got := range out.procs {
		want, ok := in.procs[id]
		if !assert.True(t, ok, "scrape %d: exported process %v was not in the input", n, id) {
			continue
		}
		assert.Equal(t, want.Resource().Attributes().AsRaw(), got.Resource().Attributes().AsRaw(), "scrape %d: attributes of %v changed", n, id)
		assert.Equal(t, want.ScopeMetrics().At(0).Metrics().Len(), got.ScopeMetrics().At(0).Metrics().Len(), "scrape %d: metrics of %v changed", n, id)
	}
}

// checkDecisions checks the decision records against the output: each input
// process has exactly one decision along the chain, process_critical's for
// critical processes and process_topk's for the others; a process is kept
// iff it is exported; what process_topk hands over, process_rollup rolls up
// into a named group.
func checkDecisions(t *testing.T, n int, c *chain, in, out batch, critical map[procID]string, others processtopk.Others) {
	t.Helper()
	crit := c.decisions.outcomes(processcritical.NewFactory().Type())
	topk := c.decisions.outcomes(processtopk.NewFactory().Type())
	rollup := c.decisions.outcomes(processrollup.NewFactory().Type())
	notKept := decision.RolledUp
	if others == processtopk.OthersDrop {
		notKept = decision.Dropped
	}
	assert.Len(t, crit, len(critical), "scrape %d: critical decisions", n)
	assert.Len(t, topk, len(in.procs)-len(critical), "scrape %d: process_topk decisions", n)
	wantRolledUp := 0
	for id := range in.procs {
		_, exported := out.procs[id]
		if rule, isCritical := critical[id]; isCritical {
			assert.Equal(t, decision.Record{PID: id.key.PID, Host: id.key.Host, Executable: stringAttr(in.procs[id].Resource().Attributes(), processmetrics.AttrExecutableName), Outcome: decision.Critical, Rule: rule},
				crit[id.key], "scrape %d", n)
			assert.NotContains(t, topk, id.key, "scrape %d: process_topk ranked critical process %v", n, id)
			continue
		}
		rec, ok := topk[id.key]
		if !assert.True(t, ok, "scrape %d: no process_topk decision for %v", n, id) {
			continue
		}
		want := notKept
		if exported {
			want = decision.Kept
			assert.Positive(t, rec.Rank, "scrape %d: kept process %v has no rank", n, id)
		}
		assert.Equal(t, want, rec.Outcome, "scrape %d: process %v", n, id)
		if want == decision.RolledUp {
			wantRolledUp++
			assert.NotEmpty(t, rollup[id.key].Group, "scrape %d: process_rollup did not roll up %v", n, id)
		}
	}
	assert.Len(t, rollup, wantRolledUp, "scrape %d: process_rollup decisions", n)
}

// checkConservation compares, bucket by bucket, the increments of a scrape's
// input and output counters. The first scrape only sets baselines.
func checkConservation(t *testing.T, n int, in, out map[ledger.Bucket]float64) {
	t.Helper()
	if n == 1 {
		return
	}
	require.NotEmpty(t, in, "scrape %d: no counter increments in the input", n)
	for b, want := range in {
		assert.InDelta(t, want, out[b], 1e-6+1e-9*math.Abs(want), "scrape %d: increment of %v", n, b)
	}
	for b, got := range out {
		if _, ok := in[b]; !ok {
			assert.Zero(t, got, "scrape %d: output increment of %v with none in the input", n, b)
		}
	}
}

// checkRollupsMonotonic checks that no rollup counter decreased or changed
// its start time since it was last emitted, and records the new points.
func checkRollupsMonotonic(t *testing.T, n int, seen, now ledger.Snapshot) {
	t.Helper()
	for id, p := range now {
		if prev, ok := seen[id]; ok {
			assert.Equal(t, prev.Start, p.Start, "scrape %d: start time of rollup series %v moved", n, id)
			assert.GreaterOrEqual(t, p.Value, prev.Value, "scrape %d: rollup series %v decreased", n, id)
		}
		seen[id] = p
	}
}

// runTotals adds up a run's scrapes.
type runTotals struct {
	scrapes, inSeries, outSeries, inProcs, outProcs, processResources int
	lastCritical                                                      int
}

func (r *runTotals) add(in, out batch, critical map[procID]string) {
	r.scrapes++
	r.inSeries += in.datapoints
	r.outSeries += out.datapoints
	r.inProcs += len(in.procs)
	r.outProcs += len(out.procs) + len(out.aggregates)
	r.processResources += len(out.procs)
	r.lastCritical = len(critical)
}

// check reports the series reduction, asserts it, and checks that cost_meter
// measured exactly what the chain exported.
func (r *runTotals) check(t *testing.T, c *chain) {
	t.Helper()
	fraction := float64(r.outSeries) / float64(r.inSeries)
	t.Logf("%d scrapes: %.0f series and %.0f resources per scrape in, %.0f series and %.1f resources out: %.2f%% of the series (%.0f× fewer)",
		r.scrapes, float64(r.inSeries)/float64(r.scrapes), float64(r.inProcs)/float64(r.scrapes),
		float64(r.outSeries)/float64(r.scrapes), float64(r.outProcs)/float64(r.scrapes), 100*fraction, 1/fraction)
	assert.LessOrEqual(t, fraction, maxSeriesFraction, "the chain must cut series by more than %.0f×", 1/maxSeriesFraction)

	assert.Equal(t, int64(r.scrapes), costMeterSum(t, c, "otelcol_processor_cost_meter_batches"))
	assert.Equal(t, int64(r.outSeries), costMeterSum(t, c, "otelcol_processor_cost_meter_datapoints"))
	assert.Equal(t, int64(r.processResources), costMeterSum(t, c, "otelcol_processor_cost_meter_process_resources"))
	assert.Equal(t, int64(r.lastCritical), costMeterGauge(t, c, "otelcol_processor_cost_meter_critical_processes"),
		"cost_meter must count the critical processes of the latest scrape")
}

func costMeterSum(t *testing.T, c *chain, name string) int64 {
	t.Helper()
	m, err := c.telemetry.GetMetric(name)
	require.NoError(t, err)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	require.Len(t, sum.DataPoints, 1)
	return sum.DataPoints[0].Value
}

func costMeterGauge(t *testing.T, c *chain, name string) int64 {
	t.Helper()
	m, err := c.telemetry.GetMetric(name)
	require.NoError(t, err)
	g, ok := m.Data.(metricdata.Gauge[int64])
	require.True(t, ok, "%s is a %T", name, m.Data)
	require.Len(t, g.DataPoints, 1)
	return g.DataPoints[0].Value
}
