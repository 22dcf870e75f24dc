package costmeter

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/costmeter/internal/metadata"
	"github.com/phoenix/platform/processors/processcritical"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	withDefaults := func(edit func(*Config)) *Config {
		cfg := createDefaultConfig().(*Config)
		edit(cfg)
		return cfg
	}
	tests := []struct {
		name     string
		expected *Config
		errMsg   string
	}{
		{name: "candidate", expected: withDefaults(func(c *Config) { c.Variant = "candidate" })},
		{name: "custom", expected: &Config{
			Variant: "baseline-2026.01_a", ActiveSeriesWindow: time.Minute, MaxTrackedSeries: 5000,
			Fidelity: createDefaultConfig().(*Config).Fidelity,
			Critical: criticalrules.Rules{
				{Name: "billing", ExecutableName: "python3", CommandLine: ".*--queue=billing.*"},
				{Name: "postgres", ExecutableName: "postgres"},
			},
		}},
		{name: "no_critical", expected: withDefaults(func(c *Config) { c.Variant = "candidate"; c.Critical = criticalrules.Rules{} })},
		{name: "missing_variant", errMsg: "variant: required"},
		{name: "bad_variant", errMsg: `variant: must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit, got "candidate b"`},
		{name: "long_variant", errMsg: "variant: must be 1-64 characters"},
		{name: "zero_window", errMsg: "active_series_window: must be positive"},
		{name: "zero_max_series", errMsg: "max_tracked_series: must be positive"},
		{name: "bad_rule", errMsg: `critical::0: command_line: invalid regular expression "(unclosed"`},
		{name: "duplicate_rule", errMsg: `critical: 1::name: duplicate rule name "db"`},
		{name: "fidelity", expected: withDefaults(func(c *Config) {
			c.Variant = "candidate"
			c.Fidelity = FidelityConfig{Reference: "full-2", NotableCPU: 0.25, NotableMemoryShare: 1, HostMemoryBytes: 16 << 30, MaxExamples: 0}
		})},
		{name: "fidelity_bad_reference", errMsg: `fidelity: reference: must be a valid variant name, got "base line"`},
		{name: "fidelity_empty_reference", errMsg: `fidelity: reference: must be a valid variant name, got ""`},
		{name: "fidelity_zero_cpu", errMsg: "fidelity: notable_cpu: must be positive and finite, got 0"},
		{name: "fidelity_inf_cpu", errMsg: "fidelity: notable_cpu: must be positive and finite, got +Inf"},
		{name: "fidelity_zero_share", errMsg: "fidelity: notable_memory_share: must be in (0, 1], got 0"},
		{name: "fidelity_big_share", errMsg: "fidelity: notable_memory_share: must be in (0, 1], got 1.5"},
		{name: "fidelity_negative_memory", errMsg: "fidelity: host_memory_bytes: must not be negative"},
		{name: "fidelity_many_examples", errMsg: "fidelity: max_examples: must be between 0 and 100, got 101"},
		{name: "fidelity_negative_examples", errMsg: "fidelity: max_examples: must be between 0 and 100, got -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(component.NewIDWithName(metadata.Type, tt.name).String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if tt.errMsg != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.errMsg)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	assert.Equal(t, processcritical.DefaultRules(), cfg.Critical)
	assert.Equal(t, 5*time.Minute, cfg.ActiveSeriesWindow)
	assert.Equal(t, 200_000, cfg.MaxTrackedSeries)
	assert.Equal(t, FidelityConfig{Reference: "baseline", NotableCPU: 0.05, NotableMemoryShare: 0.05, MaxExamples: 5}, cfg.Fidelity)
	assert.NoError(t, cfg.Fidelity.Validate())
	assert.ErrorIs(t, cfg.Validate(), ErrMissingVariant, "variant has no default: each pipeline must name its own")
}
