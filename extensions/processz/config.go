package processz // import "github.com/phoenix/platform/extensions/processz"

import (
	"errors"

	"go.opentelemetry.io/collector/config/confighttp"
)

// Errors returned by Validate. Each names the offending key.
var (
	ErrMissingEndpoint       = errors.New("endpoint: required")
	ErrNonPositiveMaxSources = errors.New("max_sources: must be positive")
)

// Config is the processz configuration. The HTTP server settings are
// confighttp's (endpoint, tls, cors, auth, timeouts, ...), squashed to the top
// level as in the core zpages extension.
type Config struct {
	confighttp.ServerConfig `mapstructure:",squash"`
	// MaxSources bounds how many processor instances' decisions are held.
	// When a new source would exceed it, the one that reported least
	// recently is forgotten.
	MaxSources int `mapstructure:"max_sources"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.NetAddr.Endpoint == "" {
		errs = append(errs, ErrMissingEndpoint)
	}
	if cfg.MaxSources <= 0 {
		errs = append(errs, ErrNonPositiveMaxSources)
	}
	return errors.Join(errs...)
}
