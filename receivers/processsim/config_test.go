package processsim

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/phoenix/platform/receivers/processsim/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

func ptr[T any](v T) *T { return &v }

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	controller := func(interval time.Duration) scraperhelper.ControllerConfig {
		cc := scraperhelper.NewDefaultControllerConfig()
		cc.CollectionInterval = interval
		return cc
	}
	tests := []struct {
		id       component.ID
		expected *Config
		errMsg   string
	}{
		{id: component.NewID(metadata.Type), expected: createDefaultConfig().(*Config)},
		{
			id:       component.NewIDWithName(metadata.Type, "high_cardinality"),
			expected: &Config{ControllerConfig: controller(10 * time.Second), Profile: profiles.HighCardinality, Seed: 42},
		},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			expected: &Config{ControllerConfig: controller(5 * time.Second), Profile: profiles.Custom, Seed: 7, Custom: profiles.Params{
				Processes: ptr(300), Daemons: ptr(6), StartsPerSecond: ptr(2.5),
				CPU:           profiles.CPUParams{BusyFraction: ptr(0.1), BusyCores: ptr(2.0), IdleCores: ptr(0.005)},
				CriticalNames: []string{"postgres", "nginx", "redis-server"},
			}},
		},
		{id: component.NewIDWithName(metadata.Type, "unknown_profile"), errMsg: `profile: unknown profile "huge" (valid: custom, high-cardinality, high-churn, realistic)`},
		{id: component.NewIDWithName(metadata.Type, "empty_profile"), errMsg: ErrNoProfile.Error()},
		{id: component.NewIDWithName(metadata.Type, "params_on_named_profile"), errMsg: `custom: parameters only apply to the "custom" profile, not to "realistic"`},
		{id: component.NewIDWithName(metadata.Type, "bad_custom"), errMsg: "custom: cpu.busy_fraction: must be within [0, 1], got 2"},
		{id: component.NewIDWithName(metadata.Type, "unknown_custom_key"), errMsg: "has invalid keys: process"},
		{id: component.NewIDWithName(metadata.Type, "zero_interval"), errMsg: `"collection_interval": requires positive value`},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			err = sub.Unmarshal(cfg)
			if err == nil {
				err = confmap.Validate(cfg)
			}
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

func TestConfigResolvesTheProfile(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Profile = profiles.Custom
	cfg.Seed = 5
	cfg.Custom = profiles.Params{Processes: ptr(12), CriticalNames: []string{"postgres"}}
	r, err := cfg.resolve()
	require.NoError(t, err)
	assert.Equal(t, profiles.Custom, r.Profile)
	assert.Equal(t, uint64(5), r.Seed)
	assert.Equal(t, 12, r.Spec.Processes)
	assert.Equal(t, []string{"postgres"}, r.Spec.CriticalNames)
}
