package processz // import "github.com/phoenix/platform/extensions/processz"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/extension"

	"github.com/phoenix/platform/extensions/processz/internal/metadata"
)

const (
	// defaultEndpoint sits next to zpages' localhost:55679 and, like it,
	// listens on the loopback interface only.
	defaultEndpoint = "localhost:55690"
	// defaultMaxSources covers a few A/B pipelines of three Phoenix
	// processors each, with room to spare.
	defaultMaxSources = 32
)

// NewFactory returns the processz extension factory.
func NewFactory() extension.Factory {
	return extension.NewFactory(metadata.Type, createDefaultConfig, create, metadata.ExtensionStability)
}

func createDefaultConfig() component.Config {
	server := confighttp.NewDefaultServerConfig()
	server.NetAddr.Endpoint = defaultEndpoint
	return &Config{ServerConfig: server, MaxSources: defaultMaxSources}
}

func create(_ context.Context, set extension.Settings, cfg component.Config) (extension.Extension, error) {
	return newExtension(set, cfg.(*Config))
}
