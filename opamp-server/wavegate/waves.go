// Package wavegate is what progressive rollouts share, whether they promote
// an experiment's candidate or assign a configuration to a fleet: how the
// targets are split into waves, and the gate each wave's agents pass before
// the next wave goes out.
package wavegate // import "github.com/phoenix/platform/opamp-server/wavegate"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// MaxWaves bounds a rollout's waves: more only adds waiting.
const MaxWaves = 10

// DefaultWaves are the cumulative percentages of the targets a rollout
// reaches wave by wave unless asked otherwise.
func DefaultWaves() []float64 { return []float64{1, 10, 50, 100} }

// ValidateWaves checks cumulative wave percentages: at most MaxWaves, each
// in (0, 100], increasing, the last 100.
func ValidateWaves(waves []float64) error {
	switch {
	case len(waves) == 0:
		return errors.New("waves: give at least one, the last 100 (for example 1,10,50,100)")
	case len(waves) > MaxWaves:
		return fmt.Errorf("waves: at most %d, got %d", MaxWaves, len(waves))
	}
	for i, p := range waves {
		switch {
		case math.IsNaN(p) || p <= 0 || p > 100:
			return fmt.Errorf("waves: %s: each wave is a cumulative percentage of the targets in (0, 100]", Pct(p))
		case i > 0 && p <= waves[i-1]:
			return fmt.Errorf("waves: %s after %s: each wave must reach more of the targets than the one before", Pct(p), Pct(waves[i-1]))
		}
	}
	if last := waves[len(waves)-1]; last != 100 {
		return fmt.Errorf("waves: the last wave is %s: it must be 100, so every target is reached", Pct(last))
	}
	return nil
}

// ValidateGateTimeout checks a gate timeout against its bounds (0 takes
// the caller's default).
func ValidateGateTimeout(d, lo, hi time.Duration) error {
	if d != 0 && (d < lo || d > hi) {
		return fmt.Errorf("gate_timeout: must be between %s and %s, got %s", lo, hi, d)
	}
	return nil
}

// Pct prints a percentage without trailing zeros.
func Pct(p float64) string { return strconv.FormatFloat(p, 'g', -1, 64) }

// Plan sizes the waves for n targets: wave i brings the agents reached to
// ceil(waves[i]% of n), and at least one more than the wave before. Waves
// left with nothing to add are dropped; the wave that reaches every target
// is labelled 100.
func Plan(waves []float64, n int) []apitypes.RolloutWave {
	var out []apitypes.RolloutWave
	done := 0
	for _, p := range waves {
		if done >= n {
			break
		}
		// The epsilon keeps 10% of 10 at 1, not 2 after rounding error.
		upto := int(math.Ceil(p*float64(n)/100 - 1e-9))
		upto = min(max(upto, done+1), n)
		if upto == n {
			p = 100
		}
		out = append(out, apitypes.RolloutWave{Percent: p, Size: upto - done, State: apitypes.WavePending})
		done = upto
	}
	return out
}

// WaveName names wave i in events and reasons.
func WaveName(r *apitypes.Rollout, i int) string {
	return fmt.Sprintf("wave %d of %d (%s%%, %d agent(s))", i+1, len(r.Waves), Pct(r.Waves[i].Percent), r.Waves[i].Size)
}

// Count sums the wave's agents into its counters, and moves a wave whose
// agents all applied to WaveGated.
func Count(w *apitypes.RolloutWave) {
	w.Applied, w.Healthy, w.Reporting, w.Removed = 0, 0, 0, 0
	for _, a := range w.Agents {
		if a.Removed {
			w.Removed++
			continue
		}
		if !a.AppliedAt.IsZero() {
			w.Applied++
		}
		if a.Healthy {
			w.Healthy++
		}
		if a.Reporting {
			w.Reporting++
		}
	}
	if w.Applied+w.Removed == len(w.Agents) {
		w.State = apitypes.WaveGated
	}
}

// ShortHash abbreviates a configuration hash for messages.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "nothing"
	}
	return h
}

// MarkRemoved marks the wave's agents that are gone from the inventory, so
// a wave starting assigns nothing to them and its gate does not wait for
// them.
func MarkRemoved(ctx context.Context, st store.Store, w *apitypes.RolloutWave) error {
	for j := range w.Agents {
		a := &w.Agents[j]
		if a.Removed {
			continue
		}
		switch _, err := st.GetAgentBrief(ctx, a.InstanceUID); {
		case errors.Is(err, store.ErrNotFound):
			a.Removed = true
		case err != nil:
			return err
		}
	}
	return nil
}
