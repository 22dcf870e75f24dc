package experimentview // import "github.com/phoenix/platform/cli/experimentview"

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// PrintStatus writes an experiment as `phoenix experiment status` shows it:
// its phase and progress, the measurement window as of now, its targets and
// its events.
func PrintStatus(out io.Writer, x apitypes.Experiment, now time.Time) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "Experiment:\t%s (%s)\n", x.Name, x.ID)
	if x.Spec.Description != "" {
		fmt.Fprintf(w, "Description:\t%s\n", x.Spec.Description)
	}
	fmt.Fprintf(w, "Mode:\t%s, %s vs %s, targets %s\n", x.Spec.Mode, x.Spec.Baseline.Name(), candidatesText(x.Spec), x.Spec.Targets.Selector)
	fmt.Fprintf(w, "Status:\t%s\t%s\n", x.Status, bar(x.Progress))
	if sum := x.State.TargetSummary; sum != nil && sum.Total > 0 {
		fmt.Fprintf(w, "Targets:\t%s\n", TargetsLine(*sum))
	}
	if !x.State.MeasureFrom.IsZero() {
		fmt.Fprintf(w, "Measuring:\t%s → %s (%s)\n", x.State.MeasureFrom.Local().Format(time.TimeOnly),
			x.State.EndsAt.Local().Format(time.TimeOnly), remaining(x, now))
	}
	if x.State.Verdict != "" {
		fmt.Fprintf(w, "Verdict:\t%s\n", x.State.Verdict)
	}
	if x.State.Error != "" {
		fmt.Fprintf(w, "Error:\t%s\n", x.State.Error)
	}
	if (x.State.Promoted || x.State.RolledBack) && x.State.Rollout == nil {
		fmt.Fprintf(w, "Rollout:\tpromoted=%t rolled_back=%t\n", x.State.Promoted, x.State.RolledBack)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if r := x.State.Rollout; r != nil {
		fmt.Fprintln(out)
		if err := PrintRollout(out, *r); err != nil {
			return err
		}
	}
	if len(x.State.Targets) > 0 {
		fmt.Fprintln(out, "\nTARGETS")
		w = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "INSTANCE UID\tHOST\tVARIANT\tAPPLIED")
		for _, t := range x.State.Targets {
			fmt.Fprintf(w, "%s\t%s\t%s\t%t\n", t.InstanceUID, cmdutil.Or(t.Host, "-"), t.Variant, t.Applied)
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if len(x.Events) > 0 {
		fmt.Fprintln(out, "\nEVENTS")
		for _, e := range x.Events {
			arrow := ""
			if e.To != "" {
				arrow = cmdutil.Or(e.From, "∅") + " → " + string(e.To) + ": "
			}
			fmt.Fprintf(out, "  %s  %s%s\n", e.Time.Local().Format(time.TimeOnly), arrow, e.Cause)
		}
	}
	return nil
}

// TargetsLine is a target summary in a few words: "10 targets, applied
// 7/10 (baseline 4/5, candidate 3/5)".
func TargetsLine(s apitypes.TargetSummary) string {
	line := fmt.Sprintf("%d targets, applied %d/%d", s.Total, s.Applied, s.Total)
	if len(s.ByVariant) < 2 {
		return line // one variant: its figures are the totals
	}
	variants := slices.Sorted(maps.Keys(s.ByVariant))
	parts := make([]string, len(variants))
	for i, v := range variants {
		parts[i] = fmt.Sprintf("%s %d/%d", v, s.ByVariant[v].Applied, s.ByVariant[v].Total)
	}
	return line + " (" + strings.Join(parts, ", ") + ")"
}

func remaining(x apitypes.Experiment, now time.Time) string {
	switch {
	case x.Status.Terminal():
		return "done"
	case now.Before(x.State.MeasureFrom):
		return "warming up, " + x.State.MeasureFrom.Sub(now).Round(time.Second).String() + " to go"
	case now.Before(x.State.EndsAt):
		return x.State.EndsAt.Sub(now).Round(time.Second).String() + " left"
	}
	return "analysing"
}

func bar(p float64) string {
	const width = 20
	n := int(p*width + 0.5)
	b := make([]rune, width)
	for i := range b {
		b[i] = '·'
		if i < n {
			b[i] = '█'
		}
	}
	return fmt.Sprintf("[%s] %3.0f%%", string(b), 100*p)
}
