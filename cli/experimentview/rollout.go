package experimentview // import "github.com/phoenix/platform/cli/experimentview"

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// PrintRollout writes a progressive promotion: where it is, why it halted,
// and one line per wave with its gate's counts.
func PrintRollout(out io.Writer, r apitypes.Rollout) error {
	fmt.Fprintf(out, "ROLLOUT  %s, %s, gate timeout %s%s\n", r.State, rolloutPosition(r), r.GateTimeout.D(), rolloutCandidate(r))
	if r.Reason != "" {
		fmt.Fprintf(out, "Halted:  %s\n", r.Reason)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "WAVE\tTARGETS\tAGENTS\tSTATE\tAPPLIED\tHEALTHY\tREPORTING\tREASON")
	for i, wv := range r.Waves {
		n := len(wv.Agents) - wv.Removed
		reason := wv.Reason
		if wv.Removed > 0 {
			reason = strings.TrimSuffix(fmt.Sprintf("%d removed from the inventory; %s", wv.Removed, reason), "; ")
		}
		fmt.Fprintf(w, "%d\t%s%%\t+%d\t%s\t%d/%d\t%d/%d\t%d/%d\t%s\n", i+1, pct(wv.Percent), wv.Size, wv.State,
			wv.Applied, n, wv.Healthy, n, wv.Reporting, n, cmdutil.Or(reason, "-"))
	}
	return w.Flush()
}

// rolloutPosition says which wave the rollout is at.
func rolloutPosition(r apitypes.Rollout) string {
	i := r.Current()
	if i >= len(r.Waves) {
		return fmt.Sprintf("all %d wave(s) passed", len(r.Waves))
	}
	return fmt.Sprintf("wave %d of %d", i+1, len(r.Waves))
}

// rolloutLine is the live view of a rollout in progress.
func rolloutLine(x apitypes.Experiment) string { return RolloutLine(x.ID, *x.State.Rollout) }

// RolloutLine is one line on a rollout: its state, its wave and how far
// that wave's gate is. id names what rolls out (an experiment, a rollout).
func RolloutLine(id string, r apitypes.Rollout) string {
	line := fmt.Sprintf("%s rollout %-9s %s", id, r.State, rolloutPosition(r))
	if i := r.Current(); i < len(r.Waves) {
		wv := r.Waves[i]
		n := len(wv.Agents) - wv.Removed
		line += fmt.Sprintf(" (%s%%, %s): applied %d/%d, healthy %d/%d, reporting %d/%d", pct(wv.Percent), wv.State,
			wv.Applied, n, wv.Healthy, n, wv.Reporting, n)
		if wv.Removed > 0 {
			line += fmt.Sprintf(", %d removed", wv.Removed)
		}
	}
	return line + rolloutCandidate(r)
}

// rolloutCandidate names the candidate rolled out when the experiment
// compared several; a single candidate needs no name.
func rolloutCandidate(r apitypes.Rollout) string {
	if r.Candidate == "" || r.Candidate == apitypes.VariantCandidate {
		return ""
	}
	return ", candidate " + Printable(r.Candidate)
}

func pct(p float64) string { return strconv.FormatFloat(p, 'g', -1, 64) }

// following reports whether watch still has something to follow: an
// experiment that has not ended, or a rollout in progress.
func following(x apitypes.Experiment) bool {
	return !x.Status.Terminal() || x.State.Rollout != nil && x.State.Rollout.State.Active()
}
