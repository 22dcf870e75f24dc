package processz

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/phoenix/platform/extensions/processz/internal/metadata"
)

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	custom := createDefaultConfig().(*Config)
	custom.NetAddr.Endpoint = "0.0.0.0:9999"
	custom.MaxSources = 4
	tests := []struct {
		id       component.ID
		expected *Config
		errMsg   string
	}{
		{id: component.NewID(metadata.Type), expected: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), expected: custom},
		{id: component.NewIDWithName(metadata.Type, "no_endpoint"), errMsg: "endpoint: required"},
		{id: component.NewIDWithName(metadata.Type, "zero_max_sources"), errMsg: "max_sources: must be positive"},
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

func TestDefaultEndpointIsLoopback(t *testing.T) {
	assert.Equal(t, "localhost:55690", createDefaultConfig().(*Config).NetAddr.Endpoint)
}
