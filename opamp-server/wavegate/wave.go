package wavegate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// CheckWave takes every agent of the wave not yet through its gate
// through it (Check; resume re-sends an agent's configuration). It returns
// a Failure at the first agent that cannot pass or when the gate timed
// out, with the wave's Reason left to the caller; otherwise the wave is
// WavePassed once every agent passed, or says what it waits for. changed
// reports whether the wave is worth saving.
func CheckWave(ctx context.Context, st store.Store, w *apitypes.RolloutWave, crit Criteria, timeout time.Duration, now time.Time,
	resume func(apitypes.RolloutAgent) (bool, error),
) (changed bool, err error) {
	before := *w
	progressed := false
	var waiting []string
	for j := range w.Agents {
		a := &w.Agents[j]
		if a.Passed || a.Removed {
			continue
		}
		moved, why, err := Check(ctx, st, a, crit, now, func() (bool, error) { return resume(*a) })
		if err != nil {
			return false, err
		}
		progressed = progressed || moved
		if !a.Passed && !a.Removed {
			waiting = append(waiting, fmt.Sprintf("agent %s (%s): %s", a.InstanceUID, a.Host, why))
		}
	}
	Count(w)
	if len(waiting) == 0 {
		w.State, w.FinishedAt, w.Reason = apitypes.WavePassed, now, ""
		return true, nil
	}
	if now.Sub(w.StartedAt) > timeout {
		return false, Failure(fmt.Sprintf("%d agent(s) did not pass the gate within %s: %s", len(waiting), timeout, strings.Join(waiting, "; ")))
	}
	w.Reason = "waiting: " + waiting[0]
	if len(waiting) > 1 {
		w.Reason += fmt.Sprintf(" (and %d more)", len(waiting)-1)
	}
	// Nothing learnt: a write would only wake every replica.
	return progressed || w.State != before.State || w.Reason != before.Reason, nil
}

// IsFailure reports whether err fails the wave (rather than being a
// store error to retry).
func IsFailure(err error) bool {
	var f Failure
	return errors.As(err, &f)
}
