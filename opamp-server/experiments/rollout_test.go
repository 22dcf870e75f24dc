package experiments

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestPlanWaves(t *testing.T) {
	t.Parallel()
	type wave struct {
		pct  float64
		size int
	}
	for _, tt := range []struct {
		name  string
		waves []float64
		n     int
		want  []wave
	}{
		{"a large fleet", DefaultWaves(), 1000, []wave{{1, 10}, {10, 90}, {50, 400}, {100, 500}}},
		{"rounding up, at least one more each wave", DefaultWaves(), 10, []wave{{1, 1}, {10, 1}, {50, 3}, {100, 5}}},
		{"no exact tenth: 10% of 10 is one agent", []float64{10, 100}, 10, []wave{{10, 1}, {100, 9}}},
		{"one agent is one wave", DefaultWaves(), 1, []wave{{100, 1}}},
		{"waves with nothing left to add are dropped", DefaultWaves(), 2, []wave{{1, 1}, {100, 1}}},
		{"the wave reaching everyone is labelled 100", DefaultWaves(), 3, []wave{{1, 1}, {10, 1}, {100, 1}}},
		{"all at once", []float64{100}, 5, []wave{{100, 5}}},
		{"fractions", []float64{33.3, 100}, 3, []wave{{33.3, 1}, {100, 2}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []wave
			total := 0
			for _, w := range PlanWaves(tt.waves, tt.n) {
				got = append(got, wave{w.Percent, w.Size})
				total += w.Size
				assert.Equal(t, apitypes.WavePending, w.State)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.n, total, "every target is in exactly one wave")
		})
	}
}

func TestValidateWaves(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateWaves(DefaultWaves()))
	require.NoError(t, ValidateWaves([]float64{100}))
	require.NoError(t, ValidateWaves([]float64{0.5, 100}))
	for waves, want := range map[string]struct {
		w   []float64
		msg string
	}{
		"empty":      {nil, "waves: give at least one, the last 100"},
		"zero":       {[]float64{0, 100}, "waves: 0: each wave is a cumulative percentage of the targets in (0, 100]"},
		"above 100":  {[]float64{50, 150}, "waves: 150: each wave"},
		"decreasing": {[]float64{10, 5, 100}, "waves: 5 after 10: each wave must reach more of the targets than the one before"},
		"repeated":   {[]float64{50, 50, 100}, "waves: 50 after 50"},
		"short":      {[]float64{10, 50}, "waves: the last wave is 50: it must be 100"},
		"too many":   {[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100}, "waves: at most 10, got 11"},
	} {
		err := ValidateWaves(want.w)
		require.Error(t, err, waves)
		assert.Contains(t, err.Error(), want.msg, waves)
	}
	require.NoError(t, ValidateGateTimeout(0))
	assert.ErrorContains(t, ValidateGateTimeout(2*MaxGateTimeout), "gate_timeout: must be between 10s and 1h0m0s, got 2h0m0s")
}
