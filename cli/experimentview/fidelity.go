package experimentview

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// printFidelity writes the candidate's fidelity figures: coverage,
// conservation, blind spots and the worst examples, then the notes. Results
// analysed before fidelity figures existed have none and print nothing.
func printFidelity(out io.Writer, f *apitypes.Fidelity) error {
	if f == nil {
		return nil
	}
	fmt.Fprintf(out, "\nFidelity of the %s (%d %s with fidelity figures):\n", f.Variant, f.Agents, plural(f.Agents, "agent", "agents"))
	coverage := func(v *float64) string {
		if v == nil {
			return "not measured"
		}
		s := fmt.Sprintf("%.1f%%", 100**v)
		if f.CoverageUpperBound {
			s += " (upper bound: split mode)"
		}
		return s
	}
	fmt.Fprintf(out, "  CPU coverage:          %s\n", coverage(f.CPUCoverage))
	fmt.Fprintf(out, "  Memory coverage:       %s\n", coverage(f.MemoryCoverage))
	if f.Conserved != nil {
		verdict := "yes, every quantity under 1%"
		if !*f.Conserved {
			var off []string
			for _, c := range f.Conservation {
				if !c.Under1Percent {
					off = append(off, c.Quantity)
				}
			}
			verdict = "NO, 1% or more off: " + strings.Join(off, ", ")
		}
		fmt.Fprintf(out, "  Conserved:             %s\n", verdict)
	}
	if f.BlindSpotsPerHour != nil {
		of := ""
		if f.NotableProcessesPerHour != nil {
			of = fmt.Sprintf(" (of %.2f notable processes)", *f.NotableProcessesPerHour)
		}
		fmt.Fprintf(out, "  Blind spots:           %.2f per agent-hour%s\n", *f.BlindSpotsPerHour, of)
	}
	if len(f.Conservation) > 0 {
		fmt.Fprintln(out)
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(w, "QUANTITY\tBASELINE TOTAL\tCANDIDATE TOTAL\tERROR\tUNDER 1%\t")
		for _, c := range f.Conservation {
			under := "yes"
			if !c.Under1Percent {
				under = "NO"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%.2f%%\t%s\t\n", c.Quantity, quantity(c.Quantity, c.Baseline), quantity(c.Quantity, c.Candidate), 100*c.Error, under)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if len(f.BlindSpotExamples) > 0 {
		fmt.Fprintln(out)
		w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "  WORST BLIND SPOTS\tRESOURCE\tPEAK\tHOST\tAGENT")
		for _, e := range f.BlindSpotExamples {
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\t%s\n", Printable(e.Name), e.Resource, peak(e), Printable(e.Host), Printable(e.InstanceUID))
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	for _, n := range f.Notes {
		fmt.Fprintf(out, "  note: %s\n", n)
	}
	return nil
}

// quantity writes a conserved total in its unit.
func quantity(q string, v float64) string {
	switch q {
	case apitypes.QuantityCPU:
		return fmt.Sprintf("%.1f s", v)
	case apitypes.QuantityMemory:
		return bytesHuman(v) + "·scrapes"
	case apitypes.QuantityDisk, apitypes.QuantityNetwork:
		return bytesHuman(v)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

func peak(e apitypes.BlindSpotExample) string {
	if e.Resource == apitypes.ResourceCPU {
		return fmt.Sprintf("%.2f cores", e.Peak)
	}
	return bytesHuman(e.Peak)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Printable shows a name an agent reported as it is when it holds only
// printable characters, quoted with escapes otherwise, so it cannot move
// the cursor or recolour a terminal; an empty one is "-".
func Printable(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || r == '\t' {
			return strconv.Quote(s)
		}
	}
	return s
}
