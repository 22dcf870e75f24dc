package processtopk

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processcritical"
	"github.com/phoenix/platform/processors/processtopk/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/population"
)

// host is one simulated host feeding the pipeline, with what the oracle
// remembers of it: its processes' last readings and its last kept set.
type host struct {
	name string
	pop  *population.Population
	last map[int64]processmetrics.Reading
	kept map[procID]bool
}

// render scrapes every host at t into one batch, each host with a
// non-process resource of its own.
func render(hosts []*host, t time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, h := range hosts {
		rms := md.ResourceMetrics()
		from := rms.Len()
		h.pop.Advance(t)
		h.pop.AppendTo(rms, t)
		for i := from; i < rms.Len(); i++ {
			rms.At(i).Resource().Attributes().PutStr(processmetrics.AttrHostName, h.name)
		}
		nonProcess(rms, h.name, t)
	}
	return md
}

func nonProcess(rms pmetric.ResourceMetricsSlice, hostName string, t time.Time) {
	rm := rms.AppendEmpty()
	rm.Resource().Attributes().PutStr(processmetrics.AttrHostName, hostName)
	g := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	g.SetName("system.cpu.load_average.1m")
	dp := g.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(pcommon.NewTimestampFromTime(t))
	dp.SetDoubleValue(1.5)
}

// oracleTop computes, independently of the processor, the non-critical
// processes of the host that must be kept: the union of the top k by CPU rate
// and by memory, where processes kept in the previous output compete with
// their values raised by margin. It updates h.last.
func (h *host) oracleTop(rms pmetric.ResourceMetricsSlice, k int, margin float64) map[int64]bool {
	type ranked struct {
		pid      int64
		cpu, rss float64
	}
	var procs []ranked
	seen := map[int64]processmetrics.Reading{}
	for i := 0; i < rms.Len(); i++ {
		id, r, ok := idOf(rms.At(i))
		if !ok || id.host != h.name {
			continue
		}
		seen[id.pid] = r
		if _, critical := rms.At(i).Resource().Attributes().Get(processmetrics.MarkerCriticalRule); critical {
			continue
		}
		rate := r.CPUSeconds / time.Duration(r.Time-r.Start).Seconds()
		if prev, ok := h.last[id.pid]; ok && prev.Start == r.Start {
			rate = (r.CPUSeconds - prev.CPUSeconds) / time.Duration(r.Time-prev.Time).Seconds()
		}
		boost := 1.0
		if h.kept[id] {
			boost += margin
		}
		procs = append(procs, ranked{pid: id.pid, cpu: rate * boost, rss: float64(r.MemoryRSS) * boost})
	}
	h.last = seen
	want := map[int64]bool{}
	for _, by := range []func(a, b ranked) int{
		func(a, b ranked) int { return cmp.Or(cmp.Compare(b.cpu, a.cpu), cmp.Compare(a.pid, b.pid)) },
		func(a, b ranked) int { return cmp.Or(cmp.Compare(b.rss, a.rss), cmp.Compare(a.pid, b.pid)) },
	} {
		slices.SortFunc(procs, by)
		for _, p := range procs[:min(k, len(procs))] {
			want[p.pid] = true
		}
	}
	return want
}

// procID tells processes apart across hosts and PID reuse.
type procID struct {
	host  string
	pid   int64
	start pcommon.Timestamp
}

func idOf(rm pmetric.ResourceMetrics) (procID, processmetrics.Reading, bool) {
	r, ok := processmetrics.Read(rm)
	return procID{r.Key.Host, r.Key.PID, r.Start}, r, ok
}

func newCriticalStage(t *testing.T) (processor.Metrics, *consumertest.MetricsSink) {
	t.Helper()
	sink := &consumertest.MetricsSink{}
	f := processcritical.NewFactory()
	p, err := f.CreateMetrics(t.Context(), processortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context(), nil))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(t.Context())) })
	return p, sink
}

func TestPropertiesOverRandomPopulations(t *testing.T) {
	for _, tt := range []struct {
		others Others
		margin float64
	}{{OthersRollup, 0.25}, {OthersDrop, 0}} {
		others := tt.others
		t.Run(string(others), func(t *testing.T) {
			const k, maxKept = 10, 25
			cfg := testConfig(func(c *Config) { c.K, c.MaxKept, c.Others, c.IncumbentMargin = k, maxKept, others, tt.margin })
			topk, now := newTestProcessor(t, cfg)
			critical, criticalOut := newCriticalStage(t)

			var hosts []*host
			for i, cpuMode := range []bool{false, true} {
				pop, err := population.New(population.Spec{
					Processes: 1000, Daemons: 30, CriticalNames: []string{"postgres", "nginx", "kubelet", "sshd"},
					StartsPerSecond: 20, BusyFraction: 0.1, BusyCores: 2, IdleCores: 0.02, CPUNoise: 0.3,
					PIDMax: 1100, CPUModeAttr: cpuMode,
				}, uint64(i+1), t0)
				require.NoError(t, err)
				hosts = append(hosts, &host{name: fmt.Sprintf("host-%d", i), pop: pop})
			}

			reuses := 0
			for scrape := 0; scrape < 25; scrape++ {
				*now = t0.Add(time.Duration(scrape) * 10 * time.Second)
				require.NoError(t, critical.ConsumeMetrics(t.Context(), render(hosts, *now)))
				in := criticalOut.AllMetrics()[scrape]
				before := pmetric.NewMetrics()
				in.CopyTo(before)
				want := map[string]map[int64]bool{}
				for _, h := range hosts {
					want[h.name] = h.oracleTop(before.ResourceMetrics(), k, tt.margin)
				}

				out := consume(t, topk, in)
				kept := checkOutput(t, scrape, others, before, out, want, maxKept)
				for _, h := range hosts {
					h.kept = kept
				}
			}
			for _, h := range hosts {
				reuses += h.pop.Stats().PIDReuses
			}
			assert.Positive(t, reuses, "the populations must reuse PIDs")
		})
	}
}

// checkOutput asserts the invariants of one scrape's output and returns the
// non-critical processes it keeps.
func checkOutput(t *testing.T, scrape int, others Others, in, out pmetric.Metrics, want map[string]map[int64]bool, maxKept int) map[procID]bool {
	t.Helper()
	criticalIn := map[procID]bool{}
	inRMs := in.ResourceMetrics()
	for i := 0; i < inRMs.Len(); i++ {
		if id, _, ok := idOf(inRMs.At(i)); ok {
			if _, critical := inRMs.At(i).Resource().Attributes().Get(processmetrics.MarkerCriticalRule); critical {
				criticalIn[id] = true
			}
		}
	}
	kept := map[procID]bool{}
	outByID := map[procID]pmetric.ResourceMetrics{}
	var nonProcessOut []pmetric.ResourceMetrics
	keptPerHost := map[string]int{}
	ranked := carriesKept(out)
	rms := out.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		id, _, ok := idOf(rm)
		if !ok {
			nonProcessOut = append(nonProcessOut, rm)
			continue
		}
		outByID[id] = rm
		attrs := rm.Resource().Attributes()
		_, critical := attrs.Get(processmetrics.MarkerCriticalRule)
		_, keptMarker := attrs.Get(processmetrics.MarkerKept)
		rolled := !criticalIn[id] && handedToRollup(attrs, ranked)
		if others == OthersDrop {
			assert.False(t, critical || rolled || keptMarker, "scrape %d: drop mode left a marker on pid %d", scrape, id.pid)
		}
		if !criticalIn[id] && !rolled {
			kept[id] = true
			keptPerHost[id.host]++
			delete(want[id.host], id.pid)
		}
	}
	for h, n := range keptPerHost {
		assert.LessOrEqual(t, n, maxKept, "scrape %d: host %s keeps more than max_kept", scrape, h)
	}
	for h, missing := range want {
		assert.Empty(t, missing, "scrape %d: host %s lost processes of its top-k union", scrape, h)
	}

	var nonProcessIn []pmetric.ResourceMetrics
	for i := 0; i < inRMs.Len(); i++ {
		rm := inRMs.At(i)
		id, _, ok := idOf(rm)
		if !ok {
			nonProcessIn = append(nonProcessIn, rm)
			continue
		}
		rule, critical := rm.Resource().Attributes().Get(processmetrics.MarkerCriticalRule)
		got, present := outByID[id]
		switch {
		case critical:
			require.True(t, present, "scrape %d: critical pid %d missing", scrape, id.pid)
			if others == OthersRollup {
				v, _ := got.Resource().Attributes().Get(processmetrics.MarkerCriticalRule)
				assert.Equal(t, rule.Str(), v.Str())
			}
		case others == OthersRollup:
			assert.True(t, present, "scrape %d: rollup mode lost pid %d", scrape, id.pid)
		}
	}
	assert.Equal(t, nonProcessIn, nonProcessOut, "scrape %d: non-process resources changed", scrape)
	return kept
}

// keptChanges counts the processes entering or leaving the kept set between
// two outputs.
func keptChanges(prev, cur []int64) int {
	n := 0
	for _, pid := range cur {
		if !slices.Contains(prev, pid) {
			n++
		}
	}
	for _, pid := range prev {
		if !slices.Contains(cur, pid) {
			n++
		}
	}
	return n
}

// TestSteadyPopulationKeepsAStableSet runs application hosts whose processes
// keep their CPU use, give or take 10% of noise per scrape, and counts the
// kept-set changes after warm-up. With only a handful of busy processes the
// k-th place falls among near-equal idle ones, where raw ranking flaps on
// noise alone; the defaults (exit_after 3, incumbent_margin 0.25) must keep
// the set still.
func TestSteadyPopulationKeepsAStableSet(t *testing.T) {
	spec := population.Spec{Processes: 200, BusyFraction: 0.05, BusyCores: 1, IdleCores: 0.01, CPUNoise: 0.1}
	const warmUp, scrapes = 10, 50
	measure := func(seed uint64, edit func(*Config)) (measured, counted int64) {
		pop, err := population.New(spec, seed, t0)
		require.NoError(t, err)
		tel := componenttest.NewTelemetry()
		defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
		set := processortest.NewNopSettings(metadata.Type)
		set.TelemetrySettings = tel.NewTelemetrySettings()
		p, err := newProcessor(set, testConfig(edit))
		require.NoError(t, err)
		now := t0
		p.now = func() time.Time { return now }

		var prev []int64
		var before int64
		for scrape := 0; scrape < warmUp+scrapes; scrape++ {
			now = t0.Add(time.Duration(scrape+1) * 10 * time.Second)
			kept := keptPIDs(consume(t, p, pop.Scrape(now)))
			if scrape == warmUp-1 {
				before = keptChangesCounter(t, tel)
			}
			if scrape >= warmUp {
				measured += int64(keptChanges(prev, kept))
			}
			prev = kept
		}
		return measured, keptChangesCounter(t, tel) - before
	}

	var defaults, exitAfterOnly, undamped int64
	for seed := uint64(1); seed <= 4; seed++ {
		measured, counted := measure(seed, nil)
		assert.Equal(t, measured, counted, "seed %d: telemetry must count every entry and exit", seed)
		defaults += measured
		m, _ := measure(seed, func(c *Config) { c.IncumbentMargin = 0 })
		exitAfterOnly += m
		m, _ = measure(seed, func(c *Config) { c.IncumbentMargin, c.ExitAfter = 0, 1 })
		undamped += m
	}
	t.Logf("kept-set changes over 4 hosts × %d scrapes: %d with the defaults, %d with exit_after alone, %d undamped",
		scrapes, defaults, exitAfterOnly, undamped)
	assert.LessOrEqual(t, defaults, int64(8), "a steady population must keep a steady set")
	assert.Less(t, exitAfterOnly, undamped, "exit_after must damp membership changes")
	assert.Less(t, defaults, exitAfterOnly, "incumbent_margin must damp membership changes")
}

func keptChangesCounter(t *testing.T, tel *componenttest.Telemetry) int64 {
	t.Helper()
	m, err := tel.GetMetric("otelcol_processor_process_topk_kept.changes")
	require.NoError(t, err)
	sum, ok := m.Data.(metricdata.Sum[int64])
	require.True(t, ok)
	require.Len(t, sum.DataPoints, 1)
	return sum.DataPoints[0].Value
}
