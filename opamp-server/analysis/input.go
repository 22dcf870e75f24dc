package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// variants is the order variants appear in everywhere in the results.
var variants = []string{apitypes.VariantBaseline, apitypes.VariantCandidate}

// Series Analyze reads, named as the control plane stores them (the
// collector's OTLP names, see processors/costmeter/README.md). A counter
// stored with a Prometheus "_total" suffix is accepted as well.
const (
	SeriesDatapoints        = "otelcol_processor_cost_meter_datapoints"
	SeriesBytes             = "otelcol_processor_cost_meter_bytes"
	SeriesProcessResources  = "otelcol_processor_cost_meter_process_resources"
	SeriesActiveSeries      = "otelcol_processor_cost_meter_active_series"
	SeriesCriticalProcesses = "otelcol_processor_cost_meter_critical_processes"
	// SeriesActiveSeriesOverflow is optional: growth means the active-series
	// figures are lower bounds, reported as a warning.
	SeriesActiveSeriesOverflow = "otelcol_processor_cost_meter_active_series_overflow"
	// Whole-collector series (Sample.Variant ""), read in split mode only.
	SeriesCPUSeconds = "otelcol_process_cpu_seconds"
	SeriesMemoryRSS  = "otelcol_process_memory_rss"
)

// Errors Analyze wraps, so callers can tell "not yet" from "never".
var (
	// ErrInvalidInput: the input contradicts itself (unknown mode, an agent
	// without variants, a criterion out of range, an unknown price model…).
	ErrInvalidInput = errors.New("invalid analysis input")
	// ErrInsufficientData: the samples cannot support the figures yet (a
	// series missing from the window, fewer than two minutes to take a rate
	// over, a baseline that exported nothing).
	ErrInsufficientData = errors.New("insufficient data")
)

// Input is everything an analysis needs. Analyze does no I/O.
type Input struct {
	// Mode is ModePaired or ModeSplit.
	Mode apitypes.Mode `json:"mode"`
	// From and To bound the measurement window [From, To): a sample belongs
	// to it when its Minute is within.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Agents are the experiment's targets, each with its samples. Every
	// target counts towards the costs "for all targets".
	Agents []AgentInput `json:"agents"`
	// Criteria decide the verdict.
	Criteria apitypes.Criteria `json:"criteria"`
	// PriceModels name the models of Prices to report; empty reports all.
	PriceModels []string `json:"price_models,omitempty"`
	// Prices is the price table; a table without models means
	// DefaultPrices().
	Prices PriceTable `json:"-"`
}

// AgentInput is one target agent.
type AgentInput struct {
	InstanceUID string `json:"instance_uid"`
	// Variants are the variants the agent ran: both in paired mode, exactly
	// one in split mode.
	Variants []string `json:"variants"`
	// Samples may hold any series and any minutes: Analyze picks the series
	// it reads within the window. A sample's InstanceUID, when set, must be
	// the agent's.
	Samples []apitypes.Sample `json:"-"`
}

// DefaultMinCriticalRetention applies when Criteria.MinCriticalRetention is nil.
const DefaultMinCriticalRetention = 1.0

// withDefaults returns the criteria as judged: every default filled in.
func withDefaults(c apitypes.Criteria) apitypes.Criteria {
	if c.MinCriticalRetention == nil {
		c.MinCriticalRetention = ptr(DefaultMinCriticalRetention)
	}
	return c
}

func validateCriteria(c apitypes.Criteria, mode apitypes.Mode) error {
	var errs []error
	if !inUnit(c.MinSeriesReduction) {
		errs = append(errs, fmt.Errorf("criteria: min_series_reduction: must be a fraction in [0, 1], got %g", c.MinSeriesReduction))
	}
	if c.MinCriticalRetention != nil && !inUnit(*c.MinCriticalRetention) {
		errs = append(errs, fmt.Errorf("criteria: min_critical_retention: must be a fraction in [0, 1], got %g", *c.MinCriticalRetention))
	}
	if c.MaxCPUIncrease != nil {
		switch {
		case mode != apitypes.ModeSplit:
			errs = append(errs, errors.New("criteria: max_cpu_increase: collector CPU is only compared in split mode"))
		case !(*c.MaxCPUIncrease >= 0) || math.IsInf(*c.MaxCPUIncrease, 1):
			errs = append(errs, fmt.Errorf("criteria: max_cpu_increase: must be a finite fraction ≥ 0, got %g", *c.MaxCPUIncrease))
		}
	}
	if c.MinCPUCoverage != nil && !inUnit(*c.MinCPUCoverage) {
		errs = append(errs, fmt.Errorf("criteria: min_cpu_coverage: must be a fraction in [0, 1], got %g", *c.MinCPUCoverage))
	}
	if c.MaxBlindSpotsPerHour != nil && (!(*c.MaxBlindSpotsPerHour >= 0) || math.IsInf(*c.MaxBlindSpotsPerHour, 1)) {
		errs = append(errs, fmt.Errorf("criteria: max_blind_spots_per_hour: must be a finite number ≥ 0, got %g", *c.MaxBlindSpotsPerHour))
	}
	return errors.Join(errs...)
}

func inUnit(v float64) bool { return v >= 0 && v <= 1 }

// validate checks everything that does not depend on the samples' values.
func (in Input) validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if in.Mode != apitypes.ModePaired && in.Mode != apitypes.ModeSplit {
		add("mode: %q is not %q or %q", in.Mode, apitypes.ModePaired, apitypes.ModeSplit)
	}
	if in.From.IsZero() || in.To.IsZero() || !in.From.Before(in.To) {
		add("window: from (%s) must be before to (%s)", in.From.Format(time.RFC3339), in.To.Format(time.RFC3339))
	}
	if len(in.Agents) == 0 {
		add("agents: at least one agent is required")
	}
	seen := map[string]bool{}
	cohorts := map[string]int{}
	for i, a := range in.Agents {
		switch {
		case a.InstanceUID == "":
			add("agents[%d]: instance_uid is required", i)
			continue
		case seen[a.InstanceUID]:
			add("agents[%d]: agent %s is listed twice", i, a.InstanceUID)
			continue
		}
		seen[a.InstanceUID] = true
		if err := checkVariants(in.Mode, a.Variants); err != nil {
			add("agent %s: variants: %v", a.InstanceUID, err)
		}
		for _, v := range a.Variants {
			cohorts[v]++
		}
		for _, s := range a.Samples {
			if s.InstanceUID != "" && s.InstanceUID != a.InstanceUID {
				add("agent %s: holds a sample of agent %s (%s)", a.InstanceUID, s.InstanceUID, s.Name)
				break
			}
			if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
				add("agent %s: %s at %s is %g", a.InstanceUID, seriesLabel(s.Name, s.Variant), s.Minute.Format(time.RFC3339), s.Value)
				break
			}
		}
	}
	if in.Mode == apitypes.ModeSplit && len(in.Agents) > 0 {
		for _, v := range variants {
			if cohorts[v] == 0 {
				add("agents: split mode needs at least one agent running %s", v)
			}
		}
	}
	if err := validateCriteria(in.Criteria, in.Mode); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	return nil
}

func checkVariants(mode apitypes.Mode, got []string) error {
	for _, v := range got {
		if !slices.Contains(variants, v) {
			return fmt.Errorf("unknown variant %q (want %s or %s)", v, apitypes.VariantBaseline, apitypes.VariantCandidate)
		}
	}
	switch mode {
	case apitypes.ModePaired:
		if len(got) != 2 || got[0] == got[1] {
			return fmt.Errorf("paired mode runs both %s and %s, got %q", apitypes.VariantBaseline, apitypes.VariantCandidate, got)
		}
	case apitypes.ModeSplit:
		if len(got) != 1 {
			return fmt.Errorf("split mode runs exactly one variant, got %q", got)
		}
	}
	return nil
}

// seriesLabel names a series the way error messages and warnings show it.
func seriesLabel(name, variant string) string {
	if variant == "" {
		return name
	}
	return fmt.Sprintf("%s{variant=%q}", name, variant)
}

func ptr[T any](v T) *T { return &v }
