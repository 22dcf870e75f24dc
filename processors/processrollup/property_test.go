package processrollup

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/processmetrics"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/population"
)

// simHost is one simulated host feeding the processor.
type simHost struct {
	name string
	pop  *population.Population
}

// simulation renders scrapes of several hosts into one batch each, with
// rollup membership drawn anew every scrape, the way process_topk's choice
// moves with the processes' rates.
type simulation struct {
	hosts      []simHost
	rng        *rand.Rand
	memberRate float64
}

func newSimulation(t testing.TB, seed uint64, start time.Time) *simulation {
	t.Helper()
	web1, err := population.New(population.Spec{
		Processes: 1500, Daemons: 20, CriticalNames: []string{"postgres", "nginx"},
		StartsPerSecond: 15, BusyFraction: 0.1, BusyCores: 2, IdleCores: 0.02, CPUNoise: 0.2,
		PIDMax: 1700, // forces PID reuse
	}, seed, start)
	require.NoError(t, err)
	web2, err := population.New(population.Spec{
		Processes: 1000, Daemons: 10, StartsPerSecond: 10, BusyFraction: 0.05, BusyCores: 1,
		IdleCores: 0.05, CPUNoise: 0.1, PIDMax: 1200, CPUModeAttr: true,
	}, seed+1, start)
	require.NoError(t, err)
	return &simulation{
		hosts:      []simHost{{"web-1", web1}, {"web-2", web2}},
		rng:        rand.New(rand.NewPCG(seed, 99)),
		memberRate: 0.85,
	}
}

// scrape advances every host to t and renders one batch: per host a
// non-process resource, then its processes with host attributes and markers.
func (s *simulation) scrape(t time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rms := md.ResourceMetrics()
	for _, h := range s.hosts {
		h.pop.Advance(t)
		appendHostResource(rms, h.name, t)
		from := rms.Len()
		h.pop.AppendTo(rms, t)
		for i := from; i < rms.Len(); i++ {
			attrs := rms.At(i).Resource().Attributes()
			attrs.PutStr(processmetrics.AttrHostName, h.name)
			attrs.PutStr("os.type", "linux")
			exe, _ := attrs.Get(processmetrics.AttrExecutableName)
			critical := exe.Str() == "postgres" || exe.Str() == "nginx"
			if critical {
				attrs.PutStr(processmetrics.MarkerCriticalRule, "databases")
			}
			// Now and then a critical process also carries the rollup
			// marker: critical must win.
			if (!critical && s.rng.Float64() < s.memberRate) || (critical && s.rng.Float64() < 0.3) {
				attrs.PutBool(processmetrics.MarkerRollup, true)
			}
		}
	}
	return md
}

func appendHostResource(rms pmetric.ResourceMetricsSlice, host string, t time.Time) {
	rm := rms.AppendEmpty()
	rm.Resource().Attributes().PutStr(processmetrics.AttrHostName, host)
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("system.cpu.time")
	s := m.SetEmptySum()
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	s.SetIsMonotonic(true)
	dp := s.DataPoints().AppendEmpty()
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(t.Add(-time.Hour)))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(t))
	dp.SetDoubleValue(float64(t.Unix() % 100000))
}

// ledger turns snapshots of cumulative series into increments, as the
// conservation property defines them. A process series present in the
// previous snapshot with the same start time adds cur - prev; a rollup series
// adds cur minus its last emitted value, however many batches ago (its
// accumulator only grows while it is emitted); any series without a previous
// point adds its full value when it started at or after the previous
// snapshot's time, and nothing otherwise.
type ledger struct {
	prev     map[seriesID]ledgerPoint // the previous snapshot
	rollups  map[seriesID]ledgerPoint // every rollup series' last point
	prevTime pcommon.Timestamp
}

// seriesID names a cumulative series in a batch: a process's (pid and start)
// or a rollup's (its resource attributes), with the metric and datapoint
// attributes. The bucket is what conservation is checked over.
type seriesID struct {
	pid    int64
	start  pcommon.Timestamp
	rollup string
	bucket bucket
}

type bucket struct{ host, metric, attrs string }

type ledgerPoint struct {
	start pcommon.Timestamp
	value float64
}

// increments reads a snapshot and returns the total increment per bucket.
func (l *ledger) increments(snapshot map[seriesID]ledgerPoint, now pcommon.Timestamp) map[bucket]float64 {
	if l.rollups == nil {
		l.rollups = map[seriesID]ledgerPoint{}
	}
	inc := map[bucket]float64{}
	for id, p := range snapshot {
		prev, ok := l.prev[id]
		if id.rollup != "" {
			prev, ok = l.rollups[id]
			l.rollups[id] = p
		}
		switch {
		case ok && prev.start == p.start:
			inc[id.bucket] += p.value - prev.value
		case l.prevTime != 0 && p.start >= l.prevTime:
			inc[id.bucket] += p.value
		}
	}
	l.prev, l.prevTime = snapshot, now
	return inc
}

// counterSnapshot collects the cumulative monotonic points of a batch's
// processes and rollups (only rollups when onlyRollups).
func counterSnapshot(md pmetric.Metrics, onlyRollups bool) map[seriesID]ledgerPoint {
	rms := md.ResourceMetrics()
	out := make(map[seriesID]ledgerPoint, 5*rms.Len())
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		host := processmetrics.StringAttr(attrs, processmetrics.AttrHostName)
		pid, isProcess := processmetrics.PID(rm.Resource())
		var rollup string
		switch {
		case isRollup(rm):
			rollup = canonical(attrs)
		case !isProcess || onlyRollups:
			continue
		}
		forEachCounter(rm, func(name string, dp pmetric.NumberDataPoint) {
			id := seriesID{rollup: rollup, bucket: bucket{host, name, canonical(dp.Attributes())}}
			if rollup == "" {
				id.pid, id.start = pid, dp.StartTimestamp()
			}
			out[id] = ledgerPoint{dp.StartTimestamp(), processmetrics.NumberValue(dp)}
		})
	}
	return out
}

func forEachCounter(rm pmetric.ResourceMetrics, fn func(name string, dp pmetric.NumberDataPoint)) {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			if aggregationOf(m) != counter {
				continue
			}
			dps := m.Sum().DataPoints()
			for k := 0; k < dps.Len(); k++ {
				fn(m.Name(), dps.At(k))
			}
		}
	}
}

func isRollup(rm pmetric.ResourceMetrics) bool {
	return rm.ScopeMetrics().Len() > 0 && rm.ScopeMetrics().At(0).Scope().Name() == metadata.ScopeName
}

// canonical renders attributes in sorted order.
func canonical(attrs pcommon.Map) string {
	if attrs.Len() == 1 {
		for k, v := range attrs.All() {
			return k + "=" + v.AsString()
		}
	}
	kv := make([]string, 0, attrs.Len())
	for k, v := range attrs.All() {
		kv = append(kv, k+"="+v.AsString())
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// nonProcess returns a batch's non-process resources that process_rollup did
// not create, in order.
func nonProcess(md pmetric.Metrics) pmetric.Metrics {
	out := pmetric.NewMetrics()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if rm := rms.At(i); !processmetrics.IsProcess(rm.Resource()) && !isRollup(rm) {
			rm.CopyTo(out.ResourceMetrics().AppendEmpty())
		}
	}
	return out
}

func TestPropertiesOverRandomPopulations(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates thousands of processes")
	}
	for _, tc := range []struct {
		name    string
		groupBy []string
		seed    uint64
	}{
		{name: "per_host", seed: 1},
		{name: "by_executable", groupBy: []string{processmetrics.AttrExecutableName}, seed: 2},
		{name: "by_owner_and_executable", groupBy: []string{processmetrics.AttrOwner, processmetrics.AttrExecutableName}, seed: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			cfg := createDefaultConfig().(*Config)
			cfg.GroupBy = tc.groupBy
			p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
			require.NoError(t, err)
			clock := t0
			p.now = func() time.Time { return clock }
			sim := newSimulation(t, tc.seed, t0)

			var in, out ledger
			rollups := map[seriesID]ledgerPoint{} // every rollup point seen
			for k := 1; k <= 20; k++ {
				clock = t0.Add(time.Duration(k) * 10 * time.Second)
				now := pcommon.NewTimestampFromTime(clock)
				md := sim.scrape(clock)
				input := pmetric.NewMetrics()
				md.CopyTo(input)

				got, err := p.processMetrics(t.Context(), md)
				require.NoError(t, err)

				// (1) conservation: per host, metric and attribute set,
				// what the output adds up to equals what the input did.
				inInc := in.increments(counterSnapshot(input, false), now)
				outInc := out.increments(counterSnapshot(got, false), now)
				if k > 1 {
					require.NotEmpty(t, inInc)
					for bucket, want := range inInc {
						assert.InDelta(t, want, outInc[bucket], 1e-6+1e-9*math.Abs(want), "scrape %d: %s", k, bucket)
					}
					for bucket := range outInc {
						assert.Contains(t, inInc, bucket, "scrape %d: output increment with no input", k)
					}
				}

				// (2) rollup counters never decrease and keep their start.
				for id, pt := range counterSnapshot(got, true) {
					if prev, ok := rollups[id]; ok {
						assert.Equal(t, prev.start, pt.start, "scrape %d: start time of %s moved", k, id)
						assert.GreaterOrEqual(t, pt.value, prev.value, "scrape %d: %s decreased", k, id)
					}
					rollups[id] = pt
				}

				// (3) no marker anywhere; members all folded into groups.
				members, kept := 0, 0
				rms := got.ResourceMetrics()
				for i := 0; i < rms.Len(); i++ {
					attrs := rms.At(i).Resource().Attributes()
					for _, marker := range processmetrics.Markers {
						_, found := attrs.Get(marker)
						assert.False(t, found, "scrape %d: output carries %s", k, marker)
					}
					if isRollup(rms.At(i)) {
						members += processCount(rms.At(i))
					} else if processmetrics.IsProcess(rms.At(i).Resource()) {
						kept++
					}
				}
				wantMembers, wantKept := countMembership(input)
				assert.Equal(t, wantMembers, members, "scrape %d: members", k)
				assert.Equal(t, wantKept, kept, "scrape %d: kept processes", k)

				// (4) non-process resources untouched.
				require.NoError(t, pmetrictest.CompareMetrics(nonProcess(input), nonProcess(got)), "scrape %d", k)
			}
			assert.NotEmpty(t, rollups)
		})
	}
}

func processCount(rm pmetric.ResourceMetrics) int {
	ms := rm.ScopeMetrics().At(0).Metrics()
	for j := 0; j < ms.Len(); j++ {
		if ms.At(j).Name() == MetricProcessCount {
			return int(ms.At(j).Gauge().DataPoints().At(0).IntValue())
		}
	}
	return 0
}

// countMembership counts an input batch's rollup members and kept processes.
func countMembership(md pmetric.Metrics) (members, kept int) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		res := rms.At(i).Resource()
		if !processmetrics.IsProcess(res) {
			continue
		}
		_, critical := res.Attributes().Get(processmetrics.MarkerCriticalRule)
		_, rollup := res.Attributes().Get(processmetrics.MarkerRollup)
		if rollup && !critical {
			members++
		} else {
			kept++
		}
	}
	return members, kept
}
