package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/phoenix/platform/processors/contract/criticalrules"
)

// Errors returned by Validate. Each names the offending key.
var (
	ErrMissingVariant       = errors.New("variant: required")
	ErrInvalidVariant       = errors.New("variant: must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
	ErrNonPositiveWindow    = errors.New("active_series_window: must be positive")
	ErrNonPositiveMaxSeries = errors.New("max_tracked_series: must be positive")
)

// variantPattern keeps variants usable verbatim as Prometheus label values,
// file names and URL path segments.
var variantPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Config is the cost_meter configuration.
type Config struct {
	// Variant labels every measurement (attribute "variant"), e.g. "baseline"
	// or "candidate". Required; unique among the cost_meter instances of one
	// collector, or their gauges overwrite each other.
	Variant string `mapstructure:"variant"`
	// Critical rules recognise the critical processes counted by
	// processor_cost_meter_critical_processes. Same syntax as
	// process_critical's rules; setting it replaces the default set.
	Critical criticalrules.Rules `mapstructure:"critical"`
	// ActiveSeriesWindow is how long a series stays active after its latest
	// datapoint.
	ActiveSeriesWindow time.Duration `mapstructure:"active_series_window"`
	// MaxTrackedSeries bounds the active-series set. Once full, new series
	// are left out (and counted in processor_cost_meter_active_series_overflow)
	// until expired ones make room; series already tracked keep being tracked.
	MaxTrackedSeries int `mapstructure:"max_tracked_series"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the configuration. Critical rules validate themselves.
func (cfg *Config) Validate() error {
	var errs []error
	switch {
	case cfg.Variant == "":
		errs = append(errs, ErrMissingVariant)
	case !variantPattern.MatchString(cfg.Variant):
		errs = append(errs, fmt.Errorf("%w, got %q", ErrInvalidVariant, cfg.Variant))
	}
	if cfg.ActiveSeriesWindow <= 0 {
		errs = append(errs, ErrNonPositiveWindow)
	}
	if cfg.MaxTrackedSeries <= 0 {
		errs = append(errs, ErrNonPositiveMaxSeries)
	}
	return errors.Join(errs...)
}
