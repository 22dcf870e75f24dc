package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"errors"
	"fmt"
	"math"
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

	ErrInvalidReference   = errors.New("reference: must be a valid variant name")
	ErrInvalidNotableCPU  = errors.New("notable_cpu: must be positive and finite")
	ErrInvalidMemoryShare = errors.New("notable_memory_share: must be in (0, 1]")
	ErrInvalidHostMemory  = errors.New("host_memory_bytes: must not be negative")
	ErrInvalidMaxExamples = errors.New("max_examples: must be between 0 and 100")
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
	// Fidelity configures the blind-spot comparison against the reference
	// variant's cost_meter in the same collector.
	Fidelity FidelityConfig `mapstructure:"fidelity"`

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

// FidelityConfig is the fidelity block: which variant is the reference and
// what makes a process notable. The thresholds that apply are the reference
// cost_meter's; max_examples is each candidate's own.
type FidelityConfig struct {
	// Reference is the variant of the cost_meter that sees every process.
	// The cost_meter whose variant it is becomes the reference; the others
	// in the same collector compare against it.
	Reference string `mapstructure:"reference"`
	// NotableCPU is the CPU rate, in cores, from which a process is notable.
	NotableCPU float64 `mapstructure:"notable_cpu"`
	// NotableMemoryShare is the share of host memory from which a process's
	// RSS makes it notable.
	NotableMemoryShare float64 `mapstructure:"notable_memory_share"`
	// HostMemoryBytes is the host memory the share applies to; 0 reads the
	// collector host's total memory.
	HostMemoryBytes int64 `mapstructure:"host_memory_bytes"`
	// MaxExamples bounds the blind-spot examples reported per collection.
	MaxExamples int `mapstructure:"max_examples"`

	// prevent unkeyed literal initialization
	_ struct{}
}

// Validate checks the fidelity block; confmap prefixes its errors with
// "fidelity::".
func (f *FidelityConfig) Validate() error {
	var errs []error
	if !variantPattern.MatchString(f.Reference) {
		errs = append(errs, fmt.Errorf("%w, got %q", ErrInvalidReference, f.Reference))
	}
	if !(f.NotableCPU > 0) || math.IsInf(f.NotableCPU, 1) {
		errs = append(errs, fmt.Errorf("%w, got %v", ErrInvalidNotableCPU, f.NotableCPU))
	}
	if !(f.NotableMemoryShare > 0 && f.NotableMemoryShare <= 1) {
		errs = append(errs, fmt.Errorf("%w, got %v", ErrInvalidMemoryShare, f.NotableMemoryShare))
	}
	if f.HostMemoryBytes < 0 {
		errs = append(errs, ErrInvalidHostMemory)
	}
	if f.MaxExamples < 0 || f.MaxExamples > 100 {
		errs = append(errs, fmt.Errorf("%w, got %d", ErrInvalidMaxExamples, f.MaxExamples))
	}
	return errors.Join(errs...)
}
