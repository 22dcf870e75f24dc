package experimentview // import "github.com/phoenix/platform/cli/experimentview"

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// printCandidates writes the ranking of an experiment with several
// candidates: one row per candidate, best first, then which one is
// recommended.
func printCandidates(out io.Writer, r apitypes.Results) error {
	model := costModel(r)
	fmt.Fprintf(out, "Candidates, ranked (%d):\n", len(r.Candidates))
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "RANK\tNAME\tPIPELINE\tSERIES REDUCTION\tCPU COVERAGE\tBLIND SPOTS/H\tCONSERVED\tMONTHLY (%s)\tVERDICT\n", model)
	for _, c := range r.Candidates {
		fmt.Fprintf(w, "%d\t%s\t%s\t%.1f%%\t%s\t%s\t%s\t%s\t%s\n", c.Rank, Printable(c.Name), Printable(apitypes.PipelineText(c.Pipeline, c.Parameters)),
			100*c.Derived.SeriesReduction.Value, cpuCoverage(c.Fidelity), blindSpots(c.Fidelity), conserved(c.Fidelity),
			monthly(c), verdictText(c.Verdict))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(out, RecommendedLine(r))
	return nil
}

// RecommendedLine names the candidate to promote, or says none qualifies.
func RecommendedLine(r apitypes.Results) string {
	if r.Recommended == "" {
		return "no candidate meets every criterion"
	}
	return "recommended: " + Printable(r.Recommended) + " — the cheapest that meets every criterion"
}

// costModel is the title of the price model the ranking's costs use: the
// first of the results.
func costModel(r apitypes.Results) string {
	costs := r.Costs
	if len(costs) == 0 && len(r.Candidates) > 0 {
		costs = r.Candidates[0].Costs
	}
	if len(costs) == 0 {
		return "no price model"
	}
	if costs[0].Model.Title != "" {
		return costs[0].Model.Title
	}
	return costs[0].Model.Name
}

func monthly(c apitypes.CandidateResults) string {
	if m, ok := c.Monthly(); ok {
		return fmt.Sprintf("$%.2f", m)
	}
	return "-"
}

func cpuCoverage(f *apitypes.Fidelity) string {
	if f == nil || f.CPUCoverage == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**f.CPUCoverage)
}

func blindSpots(f *apitypes.Fidelity) string {
	if f == nil || f.BlindSpotsPerHour == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", *f.BlindSpotsPerHour)
}

func conserved(f *apitypes.Fidelity) string {
	switch {
	case f == nil || f.Conserved == nil:
		return "-"
	case *f.Conserved:
		return "yes"
	}
	return "NO"
}

// verdictText is "pass", or "FAIL" with the criteria not met.
func verdictText(v apitypes.Verdict) string {
	if v.Pass {
		return "pass"
	}
	var failed []string
	for _, c := range v.Checks {
		if c.Outcome == apitypes.OutcomeFail {
			failed = append(failed, string(c.Criterion))
		}
	}
	if len(failed) == 0 {
		return "FAIL"
	}
	return "FAIL: " + strings.Join(failed, ", ")
}

// candidatesText says what a spec compares with its baseline: the
// candidate's pipeline, or the names of its several candidates.
func candidatesText(s apitypes.ExperimentSpec) string {
	if len(s.Candidates) == 0 {
		return s.Candidate.Pipeline
	}
	names := make([]string, len(s.Candidates))
	for i, c := range s.Candidates {
		names[i] = Printable(c.Name)
		if c.Name == "" { // not yet named by the server
			names[i] = Printable(apitypes.PipelineText(c.Pipeline, c.Parameters))
		}
	}
	return fmt.Sprintf("%d candidates (%s)", len(names), strings.Join(names, ", "))
}
