package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// BenchmarkAgentWindow queries one agent's last five minutes when s holds a
// week of its own telemetry (16 series a minute; a week is the default
// sample retention), as an experiment's analysis and a rollout's gate do
// for every agent they judge: the query should cost the window, not the
// history.
func BenchmarkAgentWindow(b *testing.B, s store.Store) {
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	const minutes, seriesPerVariant = 7 * 24 * 60, 8
	batch := make([]apitypes.Sample, 0, 16*600)
	for m := range minutes {
		minute := end.Add(-time.Duration(minutes-m) * time.Minute)
		for _, variant := range []string{apitypes.VariantBaseline, apitypes.VariantCandidate} {
			for i := range seriesPerVariant {
				batch = append(batch, apitypes.Sample{InstanceUID: "agent-1", Name: fmt.Sprintf("otelcol_processor_cost_meter_%d", i),
					Variant: variant, Minute: minute, Value: float64(m)})
			}
		}
		if len(batch) == cap(batch) || m == minutes-1 {
			if err := s.PutSamples(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	q := store.SampleQuery{InstanceUID: "agent-1", From: end.Add(-5 * time.Minute), To: end}
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.QuerySamples(b.Context(), q)
		if err != nil || len(got) != 5*2*seriesPerVariant {
			b.Fatalf("%d samples, %v", len(got), err)
		}
	}
}
