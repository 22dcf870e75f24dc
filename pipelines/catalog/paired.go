package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Ref names a catalog pipeline and the values of its variant parameters.
type Ref struct {
	Pipeline string         `json:"pipeline"`
	Params   map[string]any `json:"params,omitempty"`
}

// NamedRef is one candidate of a paired configuration with several
// candidates: a catalog pipeline and its variant parameters under a name.
type NamedRef struct {
	// Name is the candidate's cost_meter variant and the suffix of its
	// component and pipeline IDs (metrics/<name>, process_topk/<name>,
	// cost_meter/<name>). See PairedSpec.Candidates for the rules;
	// CandidateName builds one from a pipeline and its parameters.
	Name     string         `json:"name"`
	Pipeline string         `json:"pipeline"`
	Params   map[string]any `json:"params,omitempty"`
}

// Ref returns the candidate's pipeline and parameters.
func (n NamedRef) Ref() Ref { return Ref{Pipeline: n.Pipeline, Params: n.Params} }

// MaxCandidates is the most candidates one paired configuration runs beside
// its baseline.
const MaxCandidates = 4

// PairedSpec describes an A/B configuration: a baseline and one to
// MaxCandidates candidate pipelines fed by one process scrape.
type PairedSpec struct {
	Baseline Ref
	// Candidate is the single candidate, with variant "candidate". Set
	// either Candidate or Candidates, not both.
	Candidate Ref
	// Candidates are one to MaxCandidates named candidates, the alternative
	// to Candidate. Each name must be 1-64 letters, digits, '.', '_' or '-',
	// starting with a letter or digit (a cost_meter variant, which is also a
	// valid component ID name); names are unique ignoring case, and neither
	// "baseline" nor "system" (the IDs of the baseline's and the system
	// metrics' pipelines) in any case.
	Candidates []NamedRef
	// Shared holds the collector parameters (scope "collector"): receiver,
	// destination, own telemetry, critical rules. Every arm uses them; their
	// specs and defaults are the baseline pipeline's.
	Shared map[string]any
	// CandidateExports sends every candidate's output to the destination as
	// well. By default a candidate is a shadow: its output goes to nop and
	// only its cost_meter reports what it would have exported.
	CandidateExports bool
}

// Arm is one side of a rendered paired configuration.
type Arm struct {
	// Variant is "baseline", "candidate" (the single candidate) or a
	// candidate's name: the cost_meter variant and the suffix of the arm's
	// component IDs.
	Variant  string
	Pipeline string
	Version  string
	// Params are the arm's variant parameters, defaults applied, canonical.
	Params map[string]any
}

// Paired is a rendered A/B configuration.
type Paired struct {
	// Candidate is the single candidate when the spec set Candidate; zero
	// when it set Candidates.
	Baseline, Candidate Arm
	// Candidates are the candidates in spec order: Candidate alone for the
	// single form.
	Candidates []Arm
	// Shared are the collector parameters, defaults applied, canonical.
	Shared map[string]any
	Config []byte
	// Hash is the hex SHA-256 of Config.
	Hash string
}

// Variants of a paired configuration.
const (
	VariantBaseline  = "baseline"
	VariantCandidate = "candidate"
	// VariantParam is the parameter that labels every cost_meter
	// measurement with its variant.
	VariantParam = "variant"
)

// ErrInvalidPairedSpec is wrapped by the errors of a PairedSpec whose
// candidates are missing, too many, or badly named.
var ErrInvalidPairedSpec = errors.New("invalid paired spec")

// RenderPaired composes a baseline and its candidates into one
// configuration: the process receiver feeds metrics/baseline and one
// pipeline per candidate (metrics/candidate for the single form,
// metrics/<name> for Candidates), each with its own processors and cost_meter
// under IDs suffixed with the variant (process_topk/candidate,
// cost_meter/baseline), around the shared processors; the baseline exports to
// the destination, the candidates to nop unless spec.CandidateExports.
// A spec without a candidate, with both forms, with more than MaxCandidates
// or with a bad name gives an error wrapping ErrInvalidPairedSpec. Other
// errors are as Render's, with parameter problems of all parameter sets in
// one *InvalidParamsError whose ParamError.Arm is the variant.
func (c *Catalog) RenderPaired(ctx context.Context, spec PairedSpec) (Paired, error) {
	cands, single, err := spec.candidates()
	if err != nil {
		return Paired{}, err
	}
	base, err := c.lookup(spec.Baseline.Pipeline)
	if err != nil {
		return Paired{}, fmt.Errorf("baseline: %w", err)
	}
	pipes := make([]*pipeline, len(cands))
	for i, cand := range cands {
		if pipes[i], err = c.lookup(cand.Pipeline); err != nil {
			return Paired{}, fmt.Errorf("%s: %w", cand.Name, err)
		}
	}

	variants, armsNamed := `"baseline" and "candidate"`, "the baseline or candidate params"
	if !single {
		quoted := []string{strconv.Quote(VariantBaseline)}
		for _, cand := range cands {
			quoted = append(quoted, strconv.Quote(cand.Name))
		}
		variants, armsNamed = strings.Join(quoted, ", "), "the baseline's or a candidate's params"
	}
	shared, problems := base.resolve(spec.Shared, "", func(p *Param) string {
		switch {
		case p.Name == VariantParam:
			return "set by the paired configuration to " + variants
		case p.Scope != ScopeCollector:
			return "a variant parameter: set it in " + armsNamed
		}
		return ""
	})
	armParams := func(variant string, p *pipeline, given map[string]any) map[string]any {
		out, more := p.resolve(given, variant, func(p *Param) string {
			switch {
			case p.Name == VariantParam:
				return fmt.Sprintf("set by the paired configuration to %q", variant)
			case p.Scope != ScopeVariant:
				return "a collector parameter: set it in the shared params"
			}
			return ""
		})
		problems = append(problems, more...)
		out[VariantParam] = variant
		return out
	}
	baseParams := armParams(VariantBaseline, base, spec.Baseline.Params)
	candParams := make([]map[string]any, len(cands))
	for i, cand := range cands {
		candParams[i] = armParams(cand.Name, pipes[i], cand.Params)
	}
	if len(problems) > 0 {
		return Paired{}, &InvalidParamsError{Problems: problems}
	}

	sharedValues := base.valuesOf(shared)
	arms := []arm{{p: base, values: merge(sharedValues, base.valuesOf(baseParams)), pipelineID: "metrics/" + VariantBaseline, suffix: "/" + VariantBaseline}}
	rendered := make([]Arm, len(cands))
	names := make([]string, len(cands))
	for i, cand := range cands {
		p := pipes[i]
		arms = append(arms, arm{p: p, values: merge(sharedValues, p.valuesOf(candParams[i])), pipelineID: "metrics/" + cand.Name, suffix: "/" + cand.Name, shadow: !spec.CandidateExports})
		rendered[i] = Arm{Variant: cand.Name, Pipeline: p.meta.Name, Version: p.meta.Version, Params: candParams[i]}
		names[i] = p.meta.Name + " " + p.meta.Version
		if !single {
			names[i] = cand.Name + ": " + names[i]
		}
	}
	cfg, err := c.build(ctx, sharedValues, arms)
	if err != nil {
		return Paired{}, fmt.Errorf("paired %s %s / %s: %w", base.meta.Name, base.meta.Version, strings.Join(names, ", "), err)
	}
	out := Paired{
		Baseline:   Arm{Variant: VariantBaseline, Pipeline: base.meta.Name, Version: base.meta.Version, Params: baseParams},
		Candidates: rendered,
		Shared:     shared,
		Config:     cfg,
		Hash:       hash(cfg),
	}
	if single {
		out.Candidate = rendered[0]
	}
	return out, nil
}

// candidateNamePattern is the cost_meter's variant rule
// (processors/costmeter). Its characters are none of the whitespace,
// control characters and symbols the collector refuses in the name part of
// a component or pipeline ID, so a valid name is also a valid ID suffix.
var candidateNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// reservedNames are IDs of the paired configuration's other pipelines
// (metrics/baseline, metrics/system), refused as candidate names in any case.
var reservedNames = map[string]string{
	VariantBaseline:                  "the baseline's variant",
	systemPipeline[len("metrics/"):]: "the system metrics pipeline is " + systemPipeline,
}

// candidates returns the spec's candidates as named references, the single
// form's under "candidate", and whether the spec uses the single form.
func (spec PairedSpec) candidates() (_ []NamedRef, single bool, _ error) {
	singleSet := spec.Candidate.Pipeline != "" || spec.Candidate.Params != nil
	fail := func(msg string) ([]NamedRef, bool, error) {
		return nil, false, fmt.Errorf("%w: %s", ErrInvalidPairedSpec, msg)
	}
	switch {
	case singleSet && spec.Candidates != nil:
		return fail("both Candidate and Candidates are set: give one")
	case singleSet:
		return []NamedRef{{Name: VariantCandidate, Pipeline: spec.Candidate.Pipeline, Params: spec.Candidate.Params}}, true, nil
	case len(spec.Candidates) == 0:
		return fail(fmt.Sprintf("no candidate: set Candidate, or 1 to %d Candidates", MaxCandidates))
	case len(spec.Candidates) > MaxCandidates:
		return fail(fmt.Sprintf("%d candidates, at most %d", len(spec.Candidates), MaxCandidates))
	}
	var problems []string
	for i, cand := range spec.Candidates {
		at := fmt.Sprintf("candidates[%d] %q", i, cand.Name)
		folded := strings.ToLower(cand.Name)
		switch {
		case cand.Name == "":
			problems = append(problems, fmt.Sprintf("candidates[%d]: no name", i))
		case !candidateNamePattern.MatchString(cand.Name):
			problems = append(problems, at+": name must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit")
		case reservedNames[folded] != "":
			problems = append(problems, at+": name is reserved: "+reservedNames[folded])
		default:
			for j, prev := range spec.Candidates[:i] {
				if strings.EqualFold(prev.Name, cand.Name) {
					problems = append(problems, fmt.Sprintf("%s: name already used by candidates[%d] %q", at, j, prev.Name))
					break
				}
			}
		}
	}
	if len(problems) > 0 {
		return fail(strings.Join(problems, "; "))
	}
	return spec.Candidates, false, nil
}
