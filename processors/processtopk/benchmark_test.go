package processtopk

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/processtopk/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/population"
)

// BenchmarkProcessMetrics measures one scrape of a 1,000-process host at
// steady state (state warm, a little churn), per process. Rendering the
// scrape is left out of the timing.
func BenchmarkProcessMetrics(b *testing.B) {
	const processes = 1000
	for _, bc := range []struct {
		name     string
		others   Others
		recorder bool
	}{
		{name: "rollup", others: OthersRollup},
		{name: "drop", others: OthersDrop},
		{name: "rollup_with_recorder", others: OthersRollup, recorder: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			pop, err := population.New(population.Spec{
				Processes: processes, Daemons: 100, StartsPerSecond: 1,
				BusyFraction: 0.05, BusyCores: 1, IdleCores: 0.01, CPUNoise: 0.1,
			}, 1, t0)
			require.NoError(b, err)
			p, err := newProcessor(processortest.NewNopSettings(metadata.Type), testConfig(func(c *Config) { c.Others = bc.others }))
			require.NoError(b, err)
			if bc.recorder {
				require.NoError(b, p.start(b.Context(), hostWith{&recorder{}}))
			}
			now := t0
			p.now = func() time.Time { return now }
			scrape := func() {
				now = now.Add(10 * time.Second)
				_, err := p.processMetrics(b.Context(), pop.Scrape(now))
				require.NoError(b, err)
			}
			for range 10 {
				scrape()
			}

			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				now = now.Add(10 * time.Second)
				md := pop.Scrape(now)
				// Collect the rendering's garbage now, or its GC work lands
				// in the timed section.
				runtime.GC()
				b.StartTimer()
				if _, err := p.processMetrics(b.Context(), md); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*processes), "ns/process")
		})
	}
}

// BenchmarkStateMemory measures the heap the processor keeps per tracked
// process: the state of 20,000 processes on one host, scratch buffers
// excluded (they are sized by the largest batch, not by what is tracked).
func BenchmarkStateMemory(b *testing.B) {
	const processes = 20_000
	pop, err := population.New(population.Spec{Processes: processes, BusyFraction: 0.05, BusyCores: 1, IdleCores: 0.01}, 1, t0)
	require.NoError(b, err)
	var perProcess float64
	for i := range b.N {
		p, err := newProcessor(processortest.NewNopSettings(metadata.Type), testConfig(nil))
		require.NoError(b, err)
		p.now = func() time.Time { return t0 }

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		// The batch is garbage by the second reading: only state remains.
		_, err = p.processMetrics(b.Context(), pop.Scrape(t0.Add(time.Duration(i+1)*time.Second)))
		require.NoError(b, err)
		p.cands, p.drop, p.sel.sorted, p.sel.evictee = nil, nil, nil, nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		require.Len(b, p.procs, processes)
		perProcess = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / processes
		runtime.KeepAlive(p)
	}
	b.ReportMetric(perProcess, "bytes/process")
}
