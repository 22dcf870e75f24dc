package processtopk

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/phoenix/platform/processors/processtopk/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		name     string
		expected *Config
		errs     []string // substrings the error must contain
	}{
		{name: "", expected: createDefaultConfig().(*Config)},
		{name: "all_fields", expected: &Config{
			K: 5, RankBy: []RankKey{RankMemory}, Others: OthersDrop, ExitAfter: 1, IncumbentMargin: 0.5, MaxKept: 40,
			MaxSeries: 350, MinK: 2, MaxK: 20, ProcessTTL: 10 * time.Minute,
		}},
		{name: "zero_k", errs: []string{ErrNonPositiveK.Error()}},
		{name: "empty_rank_by", errs: []string{ErrNoRankKeys.Error()}},
		{name: "unknown_rank_key", errs: []string{ErrUnknownRankKey.Error() + `: "disk"`}},
		{name: "duplicate_rank_key", errs: []string{ErrDuplicateRankKey.Error() + `: "cpu"`}},
		{name: "unknown_others", errs: []string{ErrUnknownOthers.Error() + `, got "keep"`}},
		{name: "zero_exit_after", errs: []string{ErrNonPositiveExitAfter.Error()}},
		{name: "negative_incumbent_margin", errs: []string{ErrIncumbentMargin.Error() + ", got -0.1"}},
		{name: "large_incumbent_margin", errs: []string{ErrIncumbentMargin.Error() + ", got 25"}},
		{name: "negative_max_kept", errs: []string{ErrNegativeMaxKept.Error()}},
		{name: "small_max_kept", errs: []string{
			ErrMaxKeptBelowTopK.Error() + ": max_kept is 15, the union can reach 20 (k 10 × 2 rank_by keys)",
		}},
		{name: "small_max_kept_for_max_k", errs: []string{
			ErrMaxKeptBelowTopK.Error() + ": max_kept is 60, the union can reach 100 (max_k 50 × 2 rank_by keys)",
		}},
		{name: "negative_max_series", errs: []string{ErrNegativeMaxSeries.Error()}},
		{name: "k_above_max_k", errs: []string{ErrKBounds.Error() + ", got min_k 1, k 30, max_k 20"}},
		{name: "zero_min_k", errs: []string{ErrKBounds.Error() + ", got min_k 0, k 10, max_k 100"}},
		{name: "zero_ttl", errs: []string{ErrNonPositiveTTL.Error()}},
		{name: "cpu_coverage", expected: &Config{
			K: 3, RankBy: []RankKey{RankCPU, RankMemory}, Others: OthersRollup, ExitAfter: 3, IncumbentMargin: 0.25,
			MinK: 1, MaxK: 40, CPUCoverage: 0.9, ProcessTTL: 5 * time.Minute,
		}},
		{name: "cpu_coverage_out_of_range", errs: []string{ErrCPUCoverage.Error() + ", got 1.5"}},
		{name: "cpu_coverage_without_cpu", errs: []string{ErrCoverageNeedsCPU.Error()}},
		{name: "cpu_coverage_k_above_max_k", errs: []string{ErrCoverageMaxK.Error() + ", got k 30, max_k 20"}},
		{name: "many_errors", errs: []string{
			ErrNonPositiveK.Error(), ErrUnknownOthers.Error(), ErrNonPositiveTTL.Error() + ", got -1s",
		}},
	}
	for _, tt := range tests {
		id := component.NewIDWithName(metadata.Type, tt.name)
		t.Run(id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if len(tt.errs) > 0 {
				require.Error(t, err)
				for _, msg := range tt.errs {
					assert.Contains(t, err.Error(), msg)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestKeptCap(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want int
	}{
		{name: "explicit", cfg: Config{K: 10, RankBy: []RankKey{RankCPU}, MaxKept: 12}, want: 12},
		{name: "twice the union", cfg: Config{K: 10, RankBy: []RankKey{RankCPU, RankMemory}}, want: 40},
		{name: "twice the union at max_k", cfg: Config{K: 10, MaxK: 30, MaxSeries: 500, RankBy: []RankKey{RankCPU}}, want: 60},
		{name: "twice the union at max_k with cpu_coverage", cfg: Config{K: 10, MaxK: 30, CPUCoverage: 0.9, RankBy: []RankKey{RankCPU, RankMemory}}, want: 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.cfg.keptCap())
		})
	}
}
