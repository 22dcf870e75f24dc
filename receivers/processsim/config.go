package processsim // import "github.com/phoenix/platform/receivers/processsim"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// ErrNoProfile is returned when profile is empty.
var ErrNoProfile = errors.New("profile: is required")

// Config is the process_sim configuration.
type Config struct {
	scraperhelper.ControllerConfig `mapstructure:",squash"`

	// Profile names the load-simulation profile to emit: realistic,
	// high-cardinality, high-churn or custom (see docs/load-simulation.md).
	Profile string `mapstructure:"profile"`
	// Seed makes the population reproducible; 0 uses the profile's own seed.
	Seed uint64 `mapstructure:"seed"`
	// Custom sets the custom profile's parameters (processes, daemons,
	// starts_per_second, cpu, critical_names); only valid with
	// `profile: custom`.
	Custom profiles.Params `mapstructure:"custom"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks that the profile exists and, with its parameters and seed,
// resolves to a valid population. The embedded controller settings validate
// themselves.
func (cfg *Config) Validate() error {
	_, err := cfg.resolve()
	return err
}

// resolve returns the population this configuration emits.
func (cfg *Config) resolve() (profiles.Resolved, error) {
	if cfg.Profile == "" {
		return profiles.Resolved{}, ErrNoProfile
	}
	p, err := profiles.Get(cfg.Profile)
	if err != nil {
		return profiles.Resolved{}, fmt.Errorf("profile: %w", err)
	}
	if p, err = p.Apply(cfg.Custom); err != nil {
		return profiles.Resolved{}, fmt.Errorf("custom: %w", err)
	}
	return p.Resolve(cfg.Seed)
}
