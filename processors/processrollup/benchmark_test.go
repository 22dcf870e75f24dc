package processrollup

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/population"
)

// benchScrapes renders scrapes of one host's population, marking ~90% of the
// processes (a fresh draw each scrape) as rollup members, as process_topk
// does with a small k.
type benchScrapes struct {
	pop  *population.Population
	rng  *rand.Rand
	next time.Time
}

func newBenchScrapes(b *testing.B, processes int) *benchScrapes {
	pop, err := population.New(population.Spec{
		Processes: processes, Daemons: processes / 20, StartsPerSecond: 1,
		BusyFraction: 0.1, BusyCores: 2, IdleCores: 0.02, CPUNoise: 0.2,
	}, 1, t0)
	require.NoError(b, err)
	return &benchScrapes{pop: pop, rng: rand.New(rand.NewPCG(1, 2)), next: t0}
}

func (s *benchScrapes) scrape() (time.Time, pmetric.Metrics) {
	s.next = s.next.Add(10 * time.Second)
	md := s.pop.Scrape(s.next)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		attrs := rms.At(i).Resource().Attributes()
		attrs.PutStr(processmetrics.AttrHostName, "web-1")
		if s.rng.Float64() < 0.9 {
			attrs.PutBool(processmetrics.MarkerRollup, true)
		}
	}
	return s.next, md
}

type discardRecorder struct{}

func (discardRecorder) RecordDecisions(component.ID, []decision.Record) {}

// BenchmarkSteadyState measures one 1,000-process batch, ~90% members, once
// every process is known: ns/process is the figure to hold under ~700.
func BenchmarkSteadyState(b *testing.B) {
	for _, bc := range []struct {
		name     string
		recorder decision.Recorder
	}{
		{name: "no_recorder"},
		{name: "recorder", recorder: discardRecorder{}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const processes = 1000
			p, err := newProcessor(processortest.NewNopSettings(metadata.Type), createDefaultConfig().(*Config))
			require.NoError(b, err)
			p.recorder = bc.recorder
			var clock time.Time
			p.now = func() time.Time { return clock }
			src := newBenchScrapes(b, processes)
			for range 5 { // warm up: every process known, groups created
				var md pmetric.Metrics
				clock, md = src.scrape()
				_, err = p.processMetrics(b.Context(), md)
				require.NoError(b, err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				var md pmetric.Metrics
				clock, md = src.scrape()
				runtime.GC() // the scrape's garbage is not the processor's cost
				b.StartTimer()
				if _, err := p.processMetrics(b.Context(), md); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*processes), "ns/process")
		})
	}
}

// BenchmarkStateMemory reports the heap held per tracked process: the
// process entry with its counters' last values, amortised group state
// included.
func BenchmarkStateMemory(b *testing.B) {
	const processes = 10000
	for b.Loop() {
		p, err := newProcessor(processortest.NewNopSettings(metadata.Type), createDefaultConfig().(*Config))
		require.NoError(b, err)
		src := newBenchScrapes(b, processes)
		before := heapInUse()
		_, md := src.scrape()
		_, err = p.processMetrics(b.Context(), md)
		require.NoError(b, err)
		md = pmetric.Metrics{} // the batch is not state
		after := heapInUse()
		require.Len(b, p.procs, processes)
		b.ReportMetric(float64(after-before)/processes, "B/process")
		runtime.KeepAlive(p)
		runtime.KeepAlive(src)
		runtime.KeepAlive(md)
	}
}

func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
