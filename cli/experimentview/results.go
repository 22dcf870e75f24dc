package experimentview // import "github.com/phoenix/platform/cli/experimentview"

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// PrintResults writes results as tables: per-variant figures, reductions,
// costs per price model, the candidate's fidelity and the verdict with its
// reasons. With several candidates, their ranking comes first, then the
// figures of the first ranked, which the results carry in detail.
func PrintResults(out io.Writer, r apitypes.Results) error {
	if len(r.Candidates) > 0 {
		if err := printCandidates(out, r); err != nil {
			return err
		}
		fmt.Fprintf(out, "\nThe first ranked, %s, against the baseline:\n\n", Printable(r.Candidates[0].Name))
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "VARIANT\tAGENTS\tACTIVE SERIES\tDATAPOINTS/MIN\tBYTES/MIN\tPROCESSES/MIN\tCRITICAL\t")
	for _, v := range r.Variants {
		fmt.Fprintf(w, "%s\t%d\t%.0f\t%.0f\t%s\t%.0f\t%.1f\t\n", v.Variant, v.Agents, v.ActiveSeries,
			v.DatapointsPerMinute, bytesHuman(v.BytesPerMinute), v.ProcessResourcesPerMinute, v.CriticalProcesses)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	d := r.Derived
	fmt.Fprintln(out)
	fmt.Fprintf(out, "Series reduction:      %s\n", estimate(d.SeriesReduction))
	fmt.Fprintf(out, "Datapoints reduction:  %s\n", estimate(d.DatapointsReduction))
	fmt.Fprintf(out, "Bytes reduction:       %s\n", estimate(d.BytesReduction))
	fmt.Fprintf(out, "Critical retention:    %.1f%%\n", 100*d.CriticalRetention)
	if d.CPUIncrease != nil {
		fmt.Fprintf(out, "Collector CPU change:  %s\n", signedEstimate(*d.CPUIncrease))
	}
	if len(r.Costs) > 0 {
		fmt.Fprintln(out)
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "PRICE MODEL\tBASELINE/HOST/MONTH\tCANDIDATE/HOST/MONTH\tALL TARGETS SAVE/MONTH\tSAVING\t")
		for _, mc := range r.Costs {
			var base, cand float64
			for _, vc := range mc.Variants {
				// The candidate is "candidate", or its own name when the
				// experiment compared several.
				if vc.Variant == apitypes.VariantBaseline {
					base = vc.MonthlyPerHost
				} else {
					cand = vc.MonthlyPerHost
				}
			}
			title := mc.Model.Title
			if title == "" {
				title = mc.Model.Name
			}
			fmt.Fprintf(w, "%s\t$%.2f\t$%.2f\t$%.2f\t%.1f%%\t\n", title, base, cand, mc.MonthlySaving, 100*mc.SavingFraction)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if err := printFidelity(out, r.Fidelity); err != nil {
		return err
	}
	verdict := "FAIL"
	if r.Verdict.Pass {
		verdict = "PASS"
	}
	fmt.Fprintf(out, "\nVerdict: %s\n", verdict)
	for _, c := range r.Verdict.Checks {
		mark := map[apitypes.Outcome]string{apitypes.OutcomePass: "✓", apitypes.OutcomeFail: "✗"}[c.Outcome]
		if mark == "" {
			mark = "·"
		}
		fmt.Fprintf(out, "  %s %s\n", mark, c.Reason)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(out, "  ! %s\n", warn)
	}
	return nil
}

func estimate(e apitypes.Estimate) string {
	s := fmt.Sprintf("%.1f%%", 100*e.Value)
	if e.Interval != nil {
		s += fmt.Sprintf(" (95%% CI %.1f%% to %.1f%%)", 100*e.Interval.Low, 100*e.Interval.High)
	}
	return s
}

func signedEstimate(e apitypes.Estimate) string {
	s := fmt.Sprintf("%+.1f%%", 100*e.Value)
	if e.Interval != nil {
		s += fmt.Sprintf(" (95%% CI %+.1f%% to %+.1f%%)", 100*e.Interval.Low, 100*e.Interval.High)
	}
	return s
}

func bytesHuman(b float64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1f KiB", b/(1<<10))
	}
	return fmt.Sprintf("%.0f B", b)
}
