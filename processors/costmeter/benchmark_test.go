package costmeter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/costmeter/internal/metadatatest"
	"github.com/phoenix/platform/receivers/processsim/population"
)

// BenchmarkProcessMetrics measures 1,000-process scrapes (7 series per
// process) with churn, the clock advancing a 10 s scrape interval per batch so
// expiry sweeps are part of the cost. Target: ≤ ~500 ns/process.
//
// metrics_size_only measures pmetric.ProtoMarshaler.MetricsSize alone on the
// same batches: the floor of the bytes figure, for comparison.
func BenchmarkProcessMetrics(b *testing.B) {
	const processes, scrapes = 1000, 30
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pop, err := population.New(population.Spec{
		Processes: processes, Daemons: 100, CriticalNames: []string{"postgres", "nginx", "sshd"},
		StartsPerSecond: 2, BusyFraction: 0.1, BusyCores: 2, IdleCores: 0.01,
	}, 1, start)
	require.NoError(b, err)
	// Thirty distinct scrapes, so the data is not all in cache.
	batches := make([]pmetric.Metrics, scrapes)
	for i := range batches {
		batches[i] = pop.Scrape(start.Add(time.Duration(i) * 10 * time.Second))
		batches[i].MarkReadOnly()
	}
	perProcess := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*processes), "ns/process")
	}

	b.Run("cost_meter", func(b *testing.B) {
		tel := componenttest.NewTelemetry()
		b.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
		cfg := createDefaultConfig().(*Config)
		cfg.Variant = "candidate"
		m, err := newMeter(metadatatest.NewSettings(tel), cfg)
		require.NoError(b, err)
		now := start
		m.now = func() time.Time { return now }
		m.epoch = start

		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			now = now.Add(10 * time.Second)
			if _, err := m.processMetrics(b.Context(), batches[i%scrapes]); err != nil {
				b.Fatal(err)
			}
		}
		perProcess(b)
	})

	b.Run("metrics_size_only", func(b *testing.B) {
		var sizer pmetric.ProtoMarshaler
		for i := 0; b.Loop(); i++ {
			sizer.MetricsSize(batches[i%scrapes])
		}
		perProcess(b)
	})
}
