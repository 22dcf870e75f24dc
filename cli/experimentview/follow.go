// Package experimentview shows experiments as people read them: the live
// line while one runs, its status, and its results as tables. Both
// `phoenix experiment` and the demo draw experiments with it.
package experimentview // import "github.com/phoenix/platform/cli/experimentview"

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Follow polls the experiment, drawing its live view on out, until it is
// terminal and no rollout of it is in progress, and returns its final state.
func Follow(ctx context.Context, c *apiclient.Client, id string, every time.Duration, out io.Writer, redraw bool) (apitypes.Experiment, error) {
	return follow(ctx, c, id, every, out, redraw, time.Now)
}

// heartbeat is how often a status line is repeated without a terminal.
const heartbeat = 15 * time.Second

func follow(ctx context.Context, c *apiclient.Client, id string, every time.Duration, out io.Writer, redraw bool,
	clock func() time.Time,
) (apitypes.Experiment, error) {
	var lastLine string
	var lastPrinted time.Time
	notesSeen := 0
	for {
		// The live view shows no target, only their summary: a fleet's
		// targets are MiBs the server would encode every poll.
		x, err := c.ExperimentWith(ctx, id, apiclient.ExperimentOptions{WithoutTargets: true})
		if err != nil {
			return x, fmt.Errorf("experiment %s: %w", id, err)
		}
		notesSeen = printNotes(out, x, notesSeen, redraw)
		var interim *apitypes.Results
		if x.Status == apitypes.ExperimentRunning {
			if view, err := c.ExperimentResults(ctx, id); err == nil {
				interim = &view.Results
			}
		}
		now := clock()
		line := liveLine(x, interim, now)
		phase := string(x.Status)
		if x.State.Rollout != nil && x.Status == apitypes.ExperimentCompleted {
			line = rolloutLine(x)
			phase = line // every change of a wave's counts is news
		}
		switch {
		case redraw:
			fmt.Fprintf(out, "\r\033[K%s", line)
		case phase != lastLine || now.Sub(lastPrinted) >= heartbeat:
			// Without a terminal, one line per phase change and a
			// heartbeat, not a line per poll.
			fmt.Fprintln(out, line)
			lastPrinted = now
		}
		lastLine = phase
		if !following(x) {
			if redraw {
				fmt.Fprintln(out)
			}
			return x, nil
		}
		select {
		case <-ctx.Done():
			return x, ctx.Err()
		case <-time.After(every):
		}
	}
}

// printNotes prints the experiment's events that are not phase changes (an
// apply retry, a promote) beyond the first seen, each on its own line above
// the live view, and returns how many there are now.
func printNotes(out io.Writer, x apitypes.Experiment, seen int, redraw bool) int {
	n := 0
	for _, e := range x.Events {
		if e.From != "" || e.To != "" {
			continue
		}
		if n++; n <= seen {
			continue
		}
		if redraw {
			fmt.Fprint(out, "\r\033[K")
		}
		fmt.Fprintf(out, "%s %s\n", e.Time.Local().Format(time.TimeOnly), e.Cause)
	}
	return n
}

// liveLine is the one-line live view.
func liveLine(x apitypes.Experiment, r *apitypes.Results, now time.Time) string {
	line := fmt.Sprintf("%s %-9s %s", x.ID, x.Status, bar(x.Progress))
	if sum := x.State.TargetSummary; x.Status == apitypes.ExperimentDeploying && sum != nil && sum.Total > 0 {
		line += fmt.Sprintf("  applied %d/%d", sum.Applied, sum.Total)
	}
	if x.Status == "running" {
		line += "  " + remaining(x, now)
	}
	if r != nil {
		for _, v := range r.Variants {
			line += fmt.Sprintf("  %s: %.0f series", v.Variant, v.ActiveSeries)
		}
		if len(r.Costs) > 0 && len(r.Costs[0].Variants) == 2 {
			mc := r.Costs[0]
			line += fmt.Sprintf("  %s $%.2f→$%.2f/host/mo", mc.Model.Name, mc.Variants[0].MonthlyPerHost, mc.Variants[1].MonthlyPerHost)
		}
	}
	return line
}

// Summarise prints how an experiment ended: results when it completed, the
// error when it failed (as a non-zero exit); for a promoted one, its waves,
// and the reason as an error when the rollout halted.
func Summarise(ctx context.Context, c *apiclient.Client, x apitypes.Experiment, out io.Writer) error {
	if r := x.State.Rollout; r != nil && x.Status == apitypes.ExperimentCompleted {
		fmt.Fprintln(out)
		if err := PrintRollout(out, *r); err != nil {
			return err
		}
		if r.State == apitypes.RolloutHalted {
			return fmt.Errorf("experiment %s: %s", x.ID, r.Reason)
		}
		return nil
	}
	switch x.Status {
	case apitypes.ExperimentCompleted:
		view, err := c.ExperimentResults(ctx, x.ID)
		if err != nil {
			return err
		}
		fmt.Fprintln(out)
		return PrintResults(out, view.Results)
	case apitypes.ExperimentFailed:
		return fmt.Errorf("experiment %s failed: %s", x.ID, x.State.Error)
	default:
		fmt.Fprintf(out, "experiment %s was %s\n", x.ID, x.Status)
		return nil
	}
}
