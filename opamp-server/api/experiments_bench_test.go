package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// BenchmarkGetExperimentView reads a 10,000-target experiment through the
// HTTP handler, as `phoenix experiment watch` polls it, with its targets
// (about 2.5 KiB each, mostly their previous parameters) and without.
func BenchmarkGetExperimentView(b *testing.B) {
	e := newExpEnv(b)
	state := apitypes.ExperimentState{StartRequested: true}
	for i := range benchFleet {
		params := map[string]any{"endpoint": "https://ingest.example.com:4317", "batch": 8192}
		for j := range 24 {
			params[fmt.Sprintf("attribute_%02d", j)] = strings.Repeat("v", 80)
		}
		uid := fmt.Sprintf("agent-%05d", i)
		state.Targets = append(state.Targets, apitypes.ExperimentTarget{InstanceUID: uid, Variant: apitypes.VariantBoth,
			Previous:   apitypes.Assignment{InstanceUID: uid, Pipeline: "baseline", Parameters: params, ConfigHash: strings.Repeat("ab", 32)},
			ConfigHash: strings.Repeat("cd", 32), Applied: i%3 != 0})
	}
	rawState, err := json.Marshal(state)
	require.NoError(b, err)
	rawSpec, err := json.Marshal(apitypes.ExperimentSpec{Name: "large", Mode: apitypes.ModePaired,
		Targets: apitypes.Targets{Selector: "env=test"}, Duration: apitypes.Duration(time.Hour)})
	require.NoError(b, err)
	_, err = e.store.CreateExperiment(b.Context(), store.Experiment{ID: "exp-large", Name: "large",
		Status: apitypes.ExperimentRunning, Spec: rawSpec, State: rawState})
	require.NoError(b, err)
	for name, query := range map[string]string{"targets": "", "without-targets": "?targets=false"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, apitypes.Prefix+"/experiments/exp-large"+query, nil)
				req.Header.Set("Authorization", "Bearer "+viewerToken)
				rec := httptest.NewRecorder()
				e.mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %.200s", rec.Code, rec.Body)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "response-B")
		})
	}
}
