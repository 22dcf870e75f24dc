package processsim

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// benchProcesses is the scale process_sim must sustain per scrape.
const benchProcesses = 100_000

// BenchmarkScrape100k measures one 10-second scrape of 100,000 processes:
// advancing the simulation (counters, churn) and rendering every process.
// Per-process time and allocations are what the hot path is judged by.
func BenchmarkScrape100k(b *testing.B) {
	cfg := configFor(profiles.Custom, 1)
	cfg.Custom = profiles.Params{Processes: ptr(benchProcesses), StartsPerSecond: ptr(10.0)}
	s, clock := startedBenchScraper(b, cfg)
	reportPerProcess(b, func(i int) {
		clock.t = t0.Add(time.Duration(i+1) * 10 * time.Second)
		md, err := s.scrape(b.Context())
		if err != nil || md.ResourceMetrics().Len() != benchProcesses {
			b.Fatalf("scrape: %v, %d processes", err, md.ResourceMetrics().Len())
		}
	})
}

// BenchmarkRender100k isolates rendering, whose cost is almost all
// processmetrics.Process.AppendTo building pdata.
func BenchmarkRender100k(b *testing.B) {
	cfg := configFor(profiles.Custom, 1)
	cfg.Custom = profiles.Params{Processes: ptr(benchProcesses)}
	s, _ := startedBenchScraper(b, cfg)
	reportPerProcess(b, func(int) {
		md := pmetric.NewMetrics()
		render(s.pop, md.ResourceMetrics(), t0)
	})
}

func startedBenchScraper(b *testing.B, cfg *Config) (*simScraper, *fakeClock) {
	b.Helper()
	clock := &fakeClock{t: t0}
	s, err := newSimScraper(receivertestSettings(), cfg, clock.now)
	require.NoError(b, err)
	require.NoError(b, s.start(b.Context(), nil))
	return s, clock
}

// reportPerProcess runs fn b.N times and reports time, allocations and
// bytes per simulated process.
func reportPerProcess(b *testing.B, fn func(i int)) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		fn(i)
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	n := float64(b.N) * benchProcesses
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/process")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/process")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "B/process")
}
