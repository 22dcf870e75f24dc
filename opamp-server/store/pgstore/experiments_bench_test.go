package pgstore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/test/pgtest"
)

// largeState is the state of an experiment over n agents, each target about
// 2.5 KiB (mostly its previous assignment's parameters), as a fleet's is.
func largeState(tb testing.TB, n int) []byte {
	tb.Helper()
	state := apitypes.ExperimentState{StartRequested: true}
	for i := range n {
		params := map[string]any{"endpoint": "https://ingest.example.com:4317", "batch": 8192, "ratio": 0.25}
		for j := range 24 {
			params[fmt.Sprintf("attribute_%02d", j)] = strings.Repeat("v", 80)
		}
		state.Targets = append(state.Targets, apitypes.ExperimentTarget{
			InstanceUID: fmt.Sprintf("agent-%05d", i),
			Host:        fmt.Sprintf("host-%05d", i),
			Variant:     []string{"baseline", "candidate"}[i%2],
			Previous: apitypes.Assignment{
				InstanceUID: fmt.Sprintf("agent-%05d", i), Pipeline: "traces-basic", Parameters: params,
				ConfigHash: strings.Repeat("ab", 32), AssignedAt: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Generation: 3,
			},
			ConfigHash: strings.Repeat("cd", 32),
			Applied:    i%3 != 0,
		})
	}
	doc, err := json.Marshal(state)
	require.NoError(tb, err)
	return doc
}

// BenchmarkGetExperimentLarge reads a 10,000-target experiment, as the
// controller does every tick and a watcher every poll.
func BenchmarkGetExperimentLarge(b *testing.B) {
	ctx := b.Context()
	s := open(b, pgtest.StartShared(b))
	state := largeState(b, 10_000)
	_, err := s.CreateExperiment(ctx, store.Experiment{
		ID: "large", Name: "large", Status: apitypes.ExperimentRunning,
		Spec: json.RawMessage(`{"name":"large"}`), State: state,
	})
	require.NoError(b, err)
	b.SetBytes(int64(len(state)))
	for b.Loop() {
		if _, err := s.GetExperiment(ctx, "large"); err != nil {
			b.Fatal(err)
		}
	}
}
