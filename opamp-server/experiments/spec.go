// Package experiments is the experiment controller: it runs A/B pipeline
// experiments on the fleet over OpAMP — deploys each variant, waits for every
// target to apply it, measures, analyses, and puts the targets back — from
// state kept entirely in the store, so any replica can resume an experiment
// after a restart.
package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/selector"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/processors/contract/criticalrules"
)

// Defaults applied when a spec leaves them out.
const (
	DefaultWarmup        = time.Minute
	DefaultDeployTimeout = 3 * time.Minute
)

// Upper bounds of a spec's times: an experiment holds its targets on the
// experiment's configurations until it ends.
const (
	MaxDuration      = 7 * 24 * time.Hour
	MaxWarmup        = time.Hour
	MaxDeployTimeout = time.Hour
)

// ParseSpec reads a spec from YAML or JSON (JSON is YAML), strictly: an
// unknown key is an error naming it.
func ParseSpec(raw []byte) (apitypes.ExperimentSpec, error) {
	var s apitypes.ExperimentSpec
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return apitypes.ExperimentSpec{}, fmt.Errorf("experiment spec: %w", err)
	}
	applyDefaults(&s)
	return s, Validate(s)
}

func applyDefaults(s *apitypes.ExperimentSpec) {
	if s.Mode == "" {
		s.Mode = apitypes.ModePaired
	}
	if s.Warmup == 0 {
		s.Warmup = apitypes.Duration(DefaultWarmup)
	}
	if s.DeployTimeout == 0 {
		s.DeployTimeout = apitypes.Duration(DefaultDeployTimeout)
	}
	if len(s.Candidates) > 0 {
		// A copy: the caller's spec keeps its own slice.
		s.Candidates = slices.Clone(s.Candidates)
		for i, c := range s.Candidates {
			if c.Name == "" && c.Pipeline != "" {
				s.Candidates[i].Name = catalog.CandidateName(c.Pipeline, c.Parameters)
			}
		}
	}
}

// nameRE: printable, no control characters, at most 100 characters.
var nameRE = regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,100}$`)

// Validate checks a spec; every problem names its field.
func Validate(s apitypes.ExperimentSpec) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(s.Name) == "" || !nameRE.MatchString(s.Name) {
		add("name", "required: up to 100 printable characters")
	}
	if strings.TrimSpace(s.Targets.Selector) == "" {
		add("targets.selector", "required (for example env=staging): an experiment never targets every agent by accident")
	} else if _, err := selector.ParseRequired(s.Targets.Selector); err != nil {
		add("targets.selector", "%v", err)
	}
	switch s.Mode {
	case apitypes.ModePaired, apitypes.ModeSplit, "":
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
	if s.Candidates == nil {
		if s.Candidate.Pipeline == "" {
			add("candidate.pipeline", "required")
		}
	} else {
		errs = append(errs, validateCandidates(s)...)
	}
	if s.Candidate.Current {
		add("candidate.current", "only the baseline can be the current configuration")
	}
	if s.Candidate.Export && s.Mode == apitypes.ModeSplit {
		add("candidate.export", "split mode always exports both variants")
	}
	if s.Duration.D() < apitypes.MinDuration {
		add("duration", "must be at least %s (rates need two whole minutes of samples), got %s", apitypes.MinDuration, s.Duration.D())
	}
	if s.Duration.D() > MaxDuration {
		add("duration", "must be at most %s, got %s", MaxDuration, s.Duration.D())
	}
	if s.Warmup.D() < 0 || s.Warmup.D() > MaxWarmup {
		add("warmup", "must be between 0 and %s, got %s", MaxWarmup, s.Warmup.D())
	}
	if s.DeployTimeout.D() < 10*time.Second || s.DeployTimeout.D() > MaxDeployTimeout {
		add("deploy_timeout", "must be between 10s and %s, got %s", MaxDeployTimeout, s.DeployTimeout.D())
	}
	if len(s.CriticalProcesses) > 0 {
		if _, err := criticalrules.Compile(CriticalRules(s.CriticalProcesses)); err != nil {
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
	if c.MinCPUCoverage != nil && !(*c.MinCPUCoverage >= 0 && *c.MinCPUCoverage <= 1) {
		add("success_criteria.min_cpu_coverage", "must be a fraction between 0 and 1, got %g", *c.MinCPUCoverage)
	}
	if v := c.MaxBlindSpotsPerHour; v != nil && !(*v >= 0 && *v <= math.MaxFloat64) {
		add("success_criteria.max_blind_spots_per_hour", "must be a finite number ≥ 0, got %g", *v)
	}
	if c.MaxCPUIncrease != nil && s.Mode != apitypes.ModeSplit {
		add("success_criteria.max_cpu_increase", "collector CPU is only compared in split mode")
	}
	return errors.Join(errs...)
}

// candidateNameRE is catalog.PairedSpec.Candidates' name rule (a cost_meter
// variant and a component ID suffix).
var candidateNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// reservedCandidateNames are the paired configuration's other pipelines
// (metrics/baseline, metrics/system), in any case.
var reservedCandidateNames = []string{apitypes.VariantBaseline, "system"}

// validateCandidates checks spec.candidates, names defaulted: paired mode
// only, instead of candidate, 1 to MaxCandidates shadows with valid,
// distinct names.
func validateCandidates(s apitypes.ExperimentSpec) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if s.Mode == apitypes.ModeSplit {
		add("candidates", "several candidates run in paired mode only (each beside the baseline from the same scrape); split mode compares one candidate")
	}
	if s.Candidate.Pipeline != "" || s.Candidate.Parameters != nil {
		add("candidates", "give candidate or candidates, not both")
	}
	if s.Candidate.Export {
		add("candidate.export", "does not apply to candidates: every candidate of several runs in shadow")
	}
	switch n := len(s.Candidates); {
	case n == 0:
		add("candidates", "give 1 to %d candidates, or candidate", apitypes.MaxCandidates)
	case n > apitypes.MaxCandidates:
		// Nothing more is checked: a long list is refused as a whole.
		add("candidates", "at most %d candidates, got %d", apitypes.MaxCandidates, n)
		return errs
	}
	firstOf := map[string]int{}
	for i, c := range s.Candidates {
		at := fmt.Sprintf("candidates[%d]", i)
		if c.Pipeline == "" {
			add(at+".pipeline", "required")
		}
		folded := strings.ToLower(c.Name)
		switch {
		case c.Name == "" && c.Pipeline == "":
			// Named after its pipeline once it has one.
		case !candidateNameRE.MatchString(c.Name):
			add(at+".name", "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (got %d characters)", len(c.Name))
		case slices.Contains(reservedCandidateNames, folded):
			add(at+".name", "%q is reserved (the configuration's %s pipeline): name the candidate otherwise", c.Name, folded)
		default:
			if j, dup := firstOf[folded]; dup {
				add(at+".name", "%q is also candidates[%d]'s name; give each a name", c.Name, j)
				continue
			}
			firstOf[folded] = i
		}
	}
	return errs
}

// CriticalRules converts a spec's critical-process rules to the processors'
// rule type (the same fields).
func CriticalRules(rs []apitypes.CriticalRule) criticalrules.Rules {
	if rs == nil {
		return nil
	}
	out := make(criticalrules.Rules, len(rs))
	for i, r := range rs {
		out[i] = criticalrules.Rule(r)
	}
	return out
}
