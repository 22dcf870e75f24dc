package processrollup

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		name     string
		expected *Config
		errMsgs  []string
	}{
		{name: "", expected: createDefaultConfig().(*Config)},
		{name: "by_owner", expected: &Config{GroupBy: []string{"process.owner", "host.name"}, ProcessTTL: 10 * time.Minute, MaxGroups: 50}},
		{name: "empty_group_by", expected: createDefaultConfig().(*Config)},
		{name: "blank_entry", errMsgs: []string{"group_by::1: " + ErrEmptyGroupBy.Error()}},
		{name: "duplicate", errMsgs: []string{`group_by::2: duplicate attribute "process.owner"`}},
		{name: "pid", errMsgs: []string{"group_by::0: " + ErrGroupByPID.Error()}},
		{name: "marker", errMsgs: []string{`group_by::0: "phoenix.rollup": ` + ErrGroupByMarker.Error()}},
		{name: "zero_ttl", errMsgs: []string{ErrNonPositiveTTL.Error()}},
		{name: "negative_max_groups", errMsgs: []string{ErrNonPositiveMaxGroups.Error()}},
	}
	for _, tt := range tests {
		id := component.NewIDWithName(metadata.Type, tt.name)
		t.Run(id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(id.String())
			require.NoError(t, err)
			require.NoError(t, sub.Unmarshal(cfg))
			err = confmap.Validate(cfg)
			if len(tt.errMsgs) > 0 {
				require.Error(t, err)
				for _, msg := range tt.errMsgs {
					assert.Contains(t, err.Error(), msg)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := &Config{GroupBy: []string{"", processmetrics.AttrPID}, ProcessTTL: -time.Second}
	err := cfg.Validate()
	require.Error(t, err)
	for _, want := range []error{ErrNonPositiveTTL, ErrNonPositiveMaxGroups, ErrEmptyGroupBy, ErrGroupByPID} {
		assert.ErrorIs(t, err, want)
	}
}
