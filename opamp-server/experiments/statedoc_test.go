package experiments

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// fleetState is n targets whose previous assignments share one set of
// parameters (twenty critical rules, as the catalog's defaults have) but
// for every tenth target's k, each map its own.
func fleetState(n int) apitypes.ExperimentState {
	s := apitypes.ExperimentState{RunningSince: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC), Configs: map[string]string{"paired": "x"}}
	for i := range n {
		rules := []any{map[string]any{"name": "kubelet"}}
		for r := range 19 {
			rules = append(rules, map[string]any{"name": fmt.Sprintf("service-%d", r), "executable": fmt.Sprintf("^/usr/sbin/service-%d$", r)})
		}
		params := map[string]any{"k": 10, "critical": rules}
		if i%10 == 9 {
			params["k"] = 20
		}
		s.Targets = append(s.Targets, apitypes.ExperimentTarget{InstanceUID: fmt.Sprintf("a%04d", i), Variant: "both",
			Previous:   apitypes.Assignment{InstanceUID: fmt.Sprintf("a%04d", i), Pipeline: "topk-rollup", Parameters: params, ConfigHash: "h"},
			ConfigHash: "c"})
	}
	s.Targets = append(s.Targets, apitypes.ExperimentTarget{InstanceUID: "verbatim", Variant: "both",
		Previous: apitypes.Assignment{InstanceUID: "verbatim", Config: "receivers: {}\n", ConfigHash: "v"}})
	return s
}

// normalized is s as JSON would give it back (numbers as float64).
func normalized(t *testing.T, s apitypes.ExperimentState) apitypes.ExperimentState {
	t.Helper()
	raw, err := json.Marshal(s)
	require.NoError(t, err)
	var out apitypes.ExperimentState
	require.NoError(t, json.Unmarshal(raw, &out))
	return out
}

func TestStateKeepsEachDistinctPreviousParametersOnce(t *testing.T) {
	t.Parallel()
	s := fleetState(100)
	raw, err := encodeState(s)
	require.NoError(t, err)
	assert.Equal(t, 2, bytes.Count(raw, []byte(`"kubelet"`)), "two distinct parameter sets, each stored once")

	var back apitypes.ExperimentState
	require.NoError(t, decodeState(raw, &back))
	assert.Equal(t, normalized(t, s), back)

	// Encoding what was decoded gives the same document, and so does the
	// inline form states were stored in before.
	again, err := encodeState(back)
	require.NoError(t, err)
	assert.Equal(t, raw, again)
	inline, err := json.Marshal(s)
	require.NoError(t, err)
	var old apitypes.ExperimentState
	require.NoError(t, decodeState(inline, &old))
	assert.Equal(t, normalized(t, s), old)

	whole, shared := len(inline), len(raw)
	assert.Less(t, shared*4, whole, "shared parameters: %d bytes against %d inline", shared, whole)
}

func TestStateRefusesAParametersReferenceOutOfRange(t *testing.T) {
	t.Parallel()
	var s apitypes.ExperimentState
	err := decodeState([]byte(`{"targets":[{"instance_uid":"a1","variant":"both","previous":{"instance_uid":"a1","config":"","config_hash":"h","assigned_at":"0001-01-01T00:00:00Z","generation":0},"previous_parameters":3}],"previous_parameters":[{"k":1}]}`), &s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "target a1: previous parameters 3 of 1")
}

// BenchmarkStateCodec: a 10,000-target state as the controller reads and
// writes it at every step (decoded, so its targets share parameter maps),
// against the inline form it was stored in before.
func BenchmarkStateCodec(b *testing.B) {
	raw, err := encodeState(fleetState(10_000))
	require.NoError(b, err)
	var s apitypes.ExperimentState
	require.NoError(b, decodeState(raw, &s))
	inline, err := json.Marshal(s)
	require.NoError(b, err)
	run := func(name string, size int, fn func() error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := fn(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(size), "doc-bytes")
		})
	}
	run("shared/encode", len(raw), func() error { _, err := encodeState(s); return err })
	run("shared/decode", len(raw), func() error { var out apitypes.ExperimentState; return decodeState(raw, &out) })
	run("inline/encode", len(inline), func() error { _, err := json.Marshal(s); return err })
	run("inline/decode", len(inline), func() error { var out apitypes.ExperimentState; return json.Unmarshal(inline, &out) })
}
