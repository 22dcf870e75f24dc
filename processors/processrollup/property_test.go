package processrollup

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/ledger"
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

func isRollup(rm pmetric.ResourceMetrics) bool {
	return rm.ScopeMetrics().Len() > 0 && rm.ScopeMetrics().At(0).Scope().Name() == metadata.ScopeName
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

			var in, out ledger.Ledger
			rollups := ledger.Snapshot{} // every rollup point seen
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
				inInc := in.Increments(ledger.Counters(input, isRollup, false), now)
				outInc := out.Increments(ledger.Counters(got, isRollup, false), now)
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
				for id, pt := range ledger.Counters(got, isRollup, true) {
					if prev, ok := rollups[id]; ok {
						assert.Equal(t, prev.Start, pt.Start, "scrape %d: start time of %s moved", k, id)
						assert.GreaterOrEqual(t, pt.Value, prev.Value, "scrape %d: %s decreased", k, id)
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
