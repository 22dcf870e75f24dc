// Package experiments is the experiment controller: it runs A/B pipeline
// experiments on the fleet over OpAMP — deploys each variant, waits for every
// target to apply it, measures, analyses, and puts the targets back — from
// state kept entirely in the store, so any replica can resume an experiment
// after a restart.
package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/selector"
	"github.com/phoenix/platform/processors/contract/criticalrules"
)

// Modes.
const (
	// ModePaired runs both variants on every target, side by side from one
	// process scrape: identical input, exact comparison.
	ModePaired = "paired"
	// ModeSplit divides the targets into two cohorts, each running one
	// variant for real; collector CPU and memory are compared too.
	ModeSplit = "split"
)

// Spec is what an experiment is asked to do. It is given as YAML or JSON.
type Spec struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description"`
	// Targets select the agents by labels.
	Targets Targets `json:"targets" yaml:"targets"`
	// Mode is paired (default) or split.
	Mode string `json:"mode,omitempty" yaml:"mode"`
	// Baseline and Candidate are the two pipelines compared.
	Baseline  Variant `json:"baseline" yaml:"baseline"`
	Candidate Variant `json:"candidate" yaml:"candidate"`
	// Parameters are collector parameters both variants share (collection
	// interval, destination, …).
	Parameters map[string]any `json:"parameters,omitempty" yaml:"parameters"`
	// Duration is how long to measure after warm-up; Warmup how long to let
	// rates and top-k membership settle first.
	Duration Duration `json:"duration" yaml:"duration"`
	Warmup   Duration `json:"warmup,omitempty" yaml:"warmup"`
	// DeployTimeout bounds waiting for every target to apply its
	// configuration.
	DeployTimeout Duration `json:"deploy_timeout,omitempty" yaml:"deploy_timeout"`
	// CriticalProcesses are rules (process_critical syntax) for the
	// processes that must survive; both variants' cost meters count them.
	CriticalProcesses criticalrules.Rules `json:"critical_processes,omitempty" yaml:"critical_processes"`
	// SuccessCriteria decide the verdict.
	SuccessCriteria Criteria `json:"success_criteria,omitempty" yaml:"success_criteria"`
	// PriceModels name the price table's models to report; empty for all.
	PriceModels []string `json:"price_models,omitempty" yaml:"price_models"`
}

// Targets select agents.
type Targets struct {
	// Selector is a label selector: "env=prod,host.name=~web-.*".
	Selector string `json:"selector" yaml:"selector"`
}

// Variant is one side of the comparison.
type Variant struct {
	// Pipeline is a catalog pipeline name.
	Pipeline string `json:"pipeline,omitempty" yaml:"pipeline"`
	// Parameters are the pipeline's variant parameters.
	Parameters map[string]any `json:"parameters,omitempty" yaml:"parameters"`
	// Current (baseline only) takes each agent's current catalog
	// assignment, pipeline and parameters, as the baseline.
	Current bool `json:"current,omitempty" yaml:"current"`
	// Export (candidate, paired mode) sends the candidate's output to the
	// destination too instead of running it in shadow.
	Export bool `json:"export,omitempty" yaml:"export"`
}

// Name is how the variant is shown: its pipeline, or "each agent's current
// configuration" for a baseline that takes each agent's own.
func (v Variant) Name() string {
	if v.Current {
		return "each agent's current configuration"
	}
	return v.Pipeline
}

// Criteria decide whether the candidate passes. Zero values take defaults.
type Criteria struct {
	// MinSeriesReduction is the least fraction of active series the
	// candidate must remove (0.9 = 90%). Default 0 (any reduction).
	MinSeriesReduction float64 `json:"min_series_reduction,omitempty" yaml:"min_series_reduction"`
	// MinCriticalRetention is the least fraction of critical processes the
	// candidate must keep. Default 1 (all of them).
	MinCriticalRetention *float64 `json:"min_critical_retention,omitempty" yaml:"min_critical_retention"`
	// MaxCPUIncrease bounds the collector CPU increase (split mode only),
	// 0.2 = +20%. Unset: not judged.
	MaxCPUIncrease *float64 `json:"max_cpu_increase,omitempty" yaml:"max_cpu_increase"`
}

// Duration is a time.Duration written as "10m" in YAML and JSON.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads "10m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		var secs float64
		if err2 := json.Unmarshal(b, &secs); err2 != nil {
			return fmt.Errorf("duration: want a string such as \"10m\": %w", err)
		}
		*d = Duration(time.Duration(secs * float64(time.Second)))
		return nil
	}
	return d.parse(s)
}

// UnmarshalYAML reads "10m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error { return d.parse(n.Value) }

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

func (d *Duration) parse(s string) error {
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MinDuration is the shortest measurement: own telemetry is kept per minute
// and rates need two whole minutes in the window.
const MinDuration = 2 * time.Minute

// Defaults applied when a spec leaves them out.
const (
	DefaultWarmup        = time.Minute
	DefaultDeployTimeout = 3 * time.Minute
)

// ParseSpec reads a spec from YAML or JSON (JSON is YAML), strictly: an
// unknown key is an error naming it.
func ParseSpec(raw []byte) (Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("experiment spec: %w", err)
	}
	s.applyDefaults()
	return s, s.Validate()
}

func (s *Spec) applyDefaults() {
	if s.Mode == "" {
		s.Mode = ModePaired
	}
	if s.Warmup == 0 {
		s.Warmup = Duration(DefaultWarmup)
	}
	if s.DeployTimeout == 0 {
		s.DeployTimeout = Duration(DefaultDeployTimeout)
	}
}

// nameRE: printable, no control characters, at most 100 characters.
var nameRE = regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,100}$`)

// Validate checks a spec; every problem names its field.
func (s Spec) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(s.Name) == "" || !nameRE.MatchString(s.Name) {
		add("name", "required: up to 100 printable characters")
	}
	if strings.TrimSpace(s.Targets.Selector) == "" {
		add("targets.selector", "required (for example env=staging): an experiment never targets every agent by accident")
	} else if _, err := selector.Parse(s.Targets.Selector); err != nil {
		add("targets.selector", "%v", err)
	}
	switch s.Mode {
	case ModePaired, ModeSplit, "":
	default:
		add("mode", "%q is not paired or split", s.Mode)
	}
	if s.Baseline.Pipeline == "" && !s.Baseline.Current {
		add("baseline", "give a pipeline, or current: true for each agent's current assignment")
	}
	if s.Baseline.Pipeline != "" && s.Baseline.Current {
		add("baseline", "pipeline and current contradict each other")
	}
	if s.Baseline.Export {
		add("baseline.export", "only the candidate can be switched between shadow and export")
	}
	if s.Candidate.Pipeline == "" {
		add("candidate.pipeline", "required")
	}
	if s.Candidate.Current {
		add("candidate.current", "only the baseline can be the current configuration")
	}
	if s.Candidate.Export && s.Mode == ModeSplit {
		add("candidate.export", "split mode always exports both variants")
	}
	if s.Duration.D() < MinDuration {
		add("duration", "must be at least %s (rates need two whole minutes of samples), got %s", MinDuration, s.Duration.D())
	}
	if s.Warmup.D() < 0 {
		add("warmup", "must not be negative")
	}
	if s.DeployTimeout.D() < 10*time.Second {
		add("deploy_timeout", "must be at least 10s")
	}
	if len(s.CriticalProcesses) > 0 {
		if _, err := criticalrules.Compile(s.CriticalProcesses); err != nil {
			add("critical_processes", "%v", err)
		}
	}
	c := s.SuccessCriteria
	if c.MinSeriesReduction < 0 || c.MinSeriesReduction > 1 {
		add("success_criteria.min_series_reduction", "must be a fraction between 0 and 1, got %g", c.MinSeriesReduction)
	}
	if c.MinCriticalRetention != nil && (*c.MinCriticalRetention < 0 || *c.MinCriticalRetention > 1) {
		add("success_criteria.min_critical_retention", "must be a fraction between 0 and 1, got %g", *c.MinCriticalRetention)
	}
	if c.MaxCPUIncrease != nil && s.Mode != ModeSplit {
		add("success_criteria.max_cpu_increase", "collector CPU is only compared in split mode")
	}
	return errors.Join(errs...)
}
