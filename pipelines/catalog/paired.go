package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"context"
	"fmt"
)

// Ref names a catalog pipeline and the values of its variant parameters.
type Ref struct {
	Pipeline string         `json:"pipeline"`
	Params   map[string]any `json:"params,omitempty"`
}

// PairedSpec describes an A/B configuration: two pipelines fed by one process
// scrape.
type PairedSpec struct {
	Baseline  Ref
	Candidate Ref
	// Shared holds the collector parameters (scope "collector"): receiver,
	// destination, own telemetry, critical rules. Both arms use them; their
	// specs and defaults are the baseline pipeline's.
	Shared map[string]any
	// CandidateExports sends the candidate's output to the destination as
	// well. By default the candidate is a shadow: its output goes to nop and
	// only its cost_meter reports what it would have exported.
	CandidateExports bool
}

// Arm is one side of a rendered paired configuration.
type Arm struct {
	// Variant is "baseline" or "candidate": the cost_meter variant and the
	// suffix of the arm's component IDs.
	Variant  string
	Pipeline string
	Version  string
	// Params are the arm's variant parameters, defaults applied, canonical.
	Params map[string]any
}

// Paired is a rendered A/B configuration.
type Paired struct {
	Baseline, Candidate Arm
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

// RenderPaired composes two pipelines into one configuration: the process
// receiver feeds metrics/baseline and metrics/candidate, each with its own
// processors and cost_meter under IDs suffixed with the variant
// (process_topk/candidate, cost_meter/baseline), around the shared
// processors; the baseline exports to the destination, the candidate to nop
// unless spec.CandidateExports. Errors are as Render's, with parameter
// problems of all three parameter sets in one *InvalidParamsError.
func (c *Catalog) RenderPaired(ctx context.Context, spec PairedSpec) (Paired, error) {
	base, err := c.lookup(spec.Baseline.Pipeline)
	if err != nil {
		return Paired{}, fmt.Errorf("baseline: %w", err)
	}
	cand, err := c.lookup(spec.Candidate.Pipeline)
	if err != nil {
		return Paired{}, fmt.Errorf("candidate: %w", err)
	}

	shared, problems := base.resolve(spec.Shared, "", func(p *Param) string {
		switch {
		case p.Name == VariantParam:
			return "set by the paired configuration to \"baseline\" and \"candidate\""
		case p.Scope != ScopeCollector:
			return "a variant parameter: set it in the baseline or candidate params"
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
	candParams := armParams(VariantCandidate, cand, spec.Candidate.Params)
	if len(problems) > 0 {
		return Paired{}, &InvalidParamsError{Problems: problems}
	}

	sharedValues := base.valuesOf(shared)
	arms := []arm{
		{p: base, values: merge(sharedValues, base.valuesOf(baseParams)), pipelineID: "metrics/" + VariantBaseline, suffix: "/" + VariantBaseline},
		{p: cand, values: merge(sharedValues, cand.valuesOf(candParams)), pipelineID: "metrics/" + VariantCandidate, suffix: "/" + VariantCandidate, shadow: !spec.CandidateExports},
	}
	cfg, err := c.build(ctx, sharedValues, arms)
	if err != nil {
		return Paired{}, fmt.Errorf("paired %s %s / %s %s: %w", base.meta.Name, base.meta.Version, cand.meta.Name, cand.meta.Version, err)
	}
	return Paired{
		Baseline:  Arm{Variant: VariantBaseline, Pipeline: base.meta.Name, Version: base.meta.Version, Params: baseParams},
		Candidate: Arm{Variant: VariantCandidate, Pipeline: cand.meta.Name, Version: cand.meta.Version, Params: candParams},
		Shared:    shared,
		Config:    cfg,
		Hash:      hash(cfg),
	}, nil
}
