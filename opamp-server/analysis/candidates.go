package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// AnalyzeCandidates analyses a paired experiment with several candidates
// (spec.candidates): every agent ran the baseline and each candidate, its
// Variants are "baseline" and the candidates' names, and its cost_meter
// samples are labelled with them. Each candidate is compared with the
// baseline exactly as Analyze compares a single one (its samples relabelled
// "candidate", the other candidates' left out), then the candidates are
// ranked (docs/experiment-results.md, "Several candidates"): the top-level
// figures are the first ranked one's, under its own name, Series holds the
// baseline and every candidate, Candidates the ranking and Recommended the
// first ranked when it passes. Without candidates it is Analyze. An error
// of any candidate fails the analysis and names it.
func AnalyzeCandidates(in Input, cands []apitypes.NamedVariant) (apitypes.Results, error) {
	if len(cands) == 0 {
		return Analyze(in)
	}
	if err := checkCandidates(in, cands); err != nil {
		return apitypes.Results{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	names := candidateNames(cands)
	all := make([]apitypes.Results, len(cands))
	ranked := make([]apitypes.CandidateResults, len(cands))
	for i, c := range cands {
		res, err := Analyze(candidateInput(in, c.Name, names))
		if err != nil {
			return apitypes.Results{}, &candidateError{name: c.Name, err: err}
		}
		relabel(&res, c.Name)
		all[i] = res
		ranked[i] = apitypes.CandidateResults{Name: c.Name, Pipeline: c.Pipeline, Parameters: c.Parameters,
			Figures: res.Variants[1], Derived: res.Derived, Costs: res.Costs, Verdict: res.Verdict, Fidelity: res.Fidelity}
	}
	order := rank(ranked)
	markPareto(ranked)

	out := all[order[0]]
	out.Candidates = make([]apitypes.CandidateResults, len(order))
	series := []apitypes.VariantSeries{out.Series[0]}
	var warns []string
	for r, i := range order {
		ranked[i].Rank = r + 1
		out.Candidates[r] = ranked[i]
		series = append(series, all[i].Series[1])
		warns = append(warns, all[i].Warnings...)
	}
	out.Series = series
	out.Warnings = dedupe(warns)
	if first := out.Candidates[0]; first.Verdict.Pass {
		out.Recommended = first.Name
	}
	return out, nil
}

// checkCandidates refuses what the relabelling cannot tell apart: names
// missing or repeated, a mode other than paired, an agent that did not run
// every candidate.
func checkCandidates(in Input, cands []apitypes.NamedVariant) error {
	var errs []error
	if in.Mode != apitypes.ModePaired {
		errs = append(errs, fmt.Errorf("candidates: several candidates run in paired mode only, not %q", in.Mode))
	}
	seen := map[string]int{}
	for i, c := range cands {
		switch j, dup := seen[c.Name]; {
		case c.Name == "":
			errs = append(errs, fmt.Errorf("candidates[%d].name: required", i))
		case c.Name == apitypes.VariantBaseline:
			errs = append(errs, fmt.Errorf("candidates[%d].name: %q is the baseline's variant", i, c.Name))
		case dup:
			errs = append(errs, fmt.Errorf("candidates[%d].name: %q is also candidates[%d]'s name", i, c.Name, j))
		default:
			seen[c.Name] = i
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for i, a := range in.Agents {
		want := len(cands) + 1
		ok := len(a.Variants) == want && slices.Contains(a.Variants, apitypes.VariantBaseline)
		for _, c := range cands {
			ok = ok && slices.Contains(a.Variants, c.Name)
		}
		if !ok {
			errs = append(errs, fmt.Errorf("agents[%d] (%s): variants: want baseline and every candidate (%s), got %q",
				i, a.InstanceUID, strings.Join(candidateNames(cands), ", "), a.Variants))
		}
	}
	return errors.Join(errs...)
}

func candidateNames(cands []apitypes.NamedVariant) []string {
	out := make([]string, len(cands))
	for i, c := range cands {
		out[i] = c.Name
	}
	return out
}

// candidateInput is the single-candidate form of one candidate's
// comparison: its samples labelled "candidate", the other candidates'
// dropped, the baseline's and the collector's kept.
func candidateInput(in Input, name string, names []string) Input {
	out := in
	out.Agents = make([]AgentInput, len(in.Agents))
	for i, a := range in.Agents {
		samples := make([]apitypes.Sample, 0, len(a.Samples))
		for _, s := range a.Samples {
			switch {
			case s.Variant == name:
				s.Variant = apitypes.VariantCandidate
			case slices.Contains(names, s.Variant):
				continue
			}
			samples = append(samples, s)
		}
		out.Agents[i] = AgentInput{InstanceUID: a.InstanceUID, Samples: samples,
			Variants: []string{apitypes.VariantBaseline, apitypes.VariantCandidate}}
	}
	return out
}

// relabel names the candidate's variant wherever a single-candidate
// analysis calls it "candidate".
func relabel(res *apitypes.Results, name string) {
	if name == apitypes.VariantCandidate {
		return
	}
	for i := range res.Variants {
		if res.Variants[i].Variant == apitypes.VariantCandidate {
			res.Variants[i].Variant = name
		}
	}
	for i := range res.Agents {
		for j := range res.Agents[i].Variants {
			if res.Agents[i].Variants[j].Variant == apitypes.VariantCandidate {
				res.Agents[i].Variants[j].Variant = name
			}
		}
	}
	for i := range res.Costs {
		for j := range res.Costs[i].Variants {
			if res.Costs[i].Variants[j].Variant == apitypes.VariantCandidate {
				res.Costs[i].Variants[j].Variant = name
			}
		}
	}
	for i := range res.Series {
		if res.Series[i].Variant == apitypes.VariantCandidate {
			res.Series[i].Variant = name
		}
	}
	if res.Fidelity != nil {
		res.Fidelity.Variant = name
	}
	for i, w := range res.Warnings {
		res.Warnings[i] = relabelText(w, name)
	}
	for i, e := range res.ExcludedAgents {
		res.ExcludedAgents[i].Reason = relabelText(e.Reason, name)
	}
}

// relabelText names the candidate in a message that shows its series as
// name{variant="candidate"}.
func relabelText(s, name string) string {
	return strings.ReplaceAll(s, "variant="+strconv.Quote(apitypes.VariantCandidate), "variant="+strconv.Quote(name))
}

// candidateError is one candidate's analysis error, under its name; it
// wraps the error, so ErrInsufficientData and ErrInvalidInput still tell.
type candidateError struct {
	name string
	err  error
}

func (e *candidateError) Error() string {
	return fmt.Sprintf("candidate %q: %s", e.name, relabelText(e.err.Error(), e.name))
}

func (e *candidateError) Unwrap() error { return e.err }

// monthlyCost is a candidate's monthly cost for all targets under the first
// price model (0 without one).
func monthlyCost(c apitypes.CandidateResults) float64 {
	m, _ := c.Monthly()
	return m
}

// rank orders the candidates, best first: passing ones before the others,
// then the cheaper, then the greater series reduction, then by name. It
// returns the candidates' indices in that order.
func rank(cands []apitypes.CandidateResults) []int {
	order := make([]int, len(cands))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		a, b := cands[i], cands[j]
		if a.Verdict.Pass != b.Verdict.Pass {
			if a.Verdict.Pass {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(monthlyCost(a), monthlyCost(b)); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Derived.SeriesReduction.Value, a.Derived.SeriesReduction.Value); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return order
}

// cpuCoverage is a candidate's CPU coverage, if measured.
func cpuCoverage(c apitypes.CandidateResults) *float64 {
	if c.Fidelity == nil {
		return nil
	}
	return c.Fidelity.CPUCoverage
}

// markPareto sets ParetoOptimal on every candidate no other dominates: at
// most its cost and at least its CPU coverage, one of them strictly. A pair
// of which one has no coverage figure is compared on cost alone.
func markPareto(cands []apitypes.CandidateResults) {
	dominates := func(a, b apitypes.CandidateResults) bool {
		ca, cb := monthlyCost(a), monthlyCost(b)
		va, vb := cpuCoverage(a), cpuCoverage(b)
		if va == nil || vb == nil {
			return ca < cb
		}
		return ca <= cb && *va >= *vb && (ca < cb || *va > *vb)
	}
	for i := range cands {
		cands[i].ParetoOptimal = true
		for j := range cands {
			if i != j && dominates(cands[j], cands[i]) {
				cands[i].ParetoOptimal = false
				break
			}
		}
	}
}

// dedupe keeps the first of equal messages: every candidate's analysis
// repeats the baseline's warnings.
func dedupe(msgs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range msgs {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
