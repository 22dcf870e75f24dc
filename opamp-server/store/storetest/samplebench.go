package storetest

import (
	"fmt"
	"slices"
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

// BenchmarkAgentsWindows reads the same ten minutes of 10,000 agents (four
// series each), as an experiment's analysis of a large fleet does: one
// QuerySamples per agent against QueryAgentsSamples a page of agents at a
// time. On PostgreSQL the difference is the round trips.
func BenchmarkAgentsWindows(b *testing.B, s store.Store) {
	const agents, minutes, seriesPerVariant = 10_000, 10, 2
	from := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(minutes * time.Minute)
	uids := make([]string, agents)
	batch := make([]apitypes.Sample, 0, 5000)
	for i := range uids {
		uids[i] = fmt.Sprintf("agent-%05d", i)
		for m := range minutes {
			for _, variant := range []string{apitypes.VariantBaseline, apitypes.VariantCandidate} {
				for j := range seriesPerVariant {
					batch = append(batch, apitypes.Sample{InstanceUID: uids[i], Name: fmt.Sprintf("otelcol_processor_cost_meter_%d", j),
						Variant: variant, Minute: from.Add(time.Duration(m) * time.Minute), Value: float64(m)})
				}
			}
		}
		if len(batch) >= cap(batch)-minutes*2*seriesPerVariant || i == agents-1 {
			if err := s.PutSamples(b.Context(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	const want = agents * minutes * 2 * seriesPerVariant
	b.Run("PerAgent", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for _, uid := range uids {
				got, err := s.QuerySamples(b.Context(), store.SampleQuery{InstanceUID: uid, From: from, To: to})
				if err != nil {
					b.Fatal(err)
				}
				n += len(got)
			}
			if n != want {
				b.Fatalf("%d samples, want %d", n, want)
			}
		}
	})
	b.Run("Batched", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			n := 0
			for page := range slices.Chunk(uids, store.MaxBatchKeys) {
				got, err := s.QueryAgentsSamples(b.Context(), page, store.SampleQuery{From: from, To: to})
				if err != nil {
					b.Fatal(err)
				}
				for _, samples := range got {
					n += len(samples)
				}
			}
			if n != want {
				b.Fatalf("%d samples, want %d", n, want)
			}
		}
	})
}
