package processcritical

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
	"github.com/phoenix/platform/processors/processcritical/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id       component.ID
		expected *Config
		errMsg   string
	}{
		{id: component.NewID(metadata.Type), expected: createDefaultConfig().(*Config)},
		{
			id: component.NewIDWithName(metadata.Type, "custom"),
			expected: &Config{ProcessTTL: 10 * time.Minute, Rules: criticalrules.Rules{
				{Name: "billing-workers", ExecutableName: "python3", CommandLine: ".*--queue=billing.*", Owner: "app"},
				{Name: "postgres", ExecutableName: "postgres"},
			}},
		},
		{id: component.NewIDWithName(metadata.Type, "bad_regex"), errMsg: `rules::0: command_line: invalid regular expression "(unclosed"`},
		{id: component.NewIDWithName(metadata.Type, "no_matcher"), errMsg: "rules::0: " + criticalrules.ErrNoMatcher.Error()},
		{id: component.NewIDWithName(metadata.Type, "duplicate"), errMsg: `duplicate rule name "db"`},
		{id: component.NewIDWithName(metadata.Type, "missing_name"), errMsg: "rules::0: name is required"},
		{id: component.NewIDWithName(metadata.Type, "zero_ttl"), errMsg: ErrNonPositiveTTL.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
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

func TestDefaultRulesAreValid(t *testing.T) {
	m, err := criticalrules.Compile(DefaultRules())
	require.NoError(t, err)
	assert.Equal(t, len(DefaultRules()), m.Len())
}
