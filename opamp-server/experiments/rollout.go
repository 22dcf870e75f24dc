package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/pipelines/catalog"
)

// ErrInvalidRequest: an action's options are invalid (a promote's waves).
var ErrInvalidRequest = errors.New("invalid request")

// Progressive promotion defaults and bounds.
const (
	// MaxWaves bounds a rollout's waves: more only adds waiting.
	MaxWaves           = 10
	DefaultGateTimeout = 5 * time.Minute
	MinGateTimeout     = 10 * time.Second
	// MaxGateTimeout, like the spec's times: a wave holds the rollout.
	MaxGateTimeout = time.Hour
)

// DefaultWaves are the cumulative percentages of the targets a promote
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
			return fmt.Errorf("waves: %s: each wave is a cumulative percentage of the targets in (0, 100]", fmtPct(p))
		case i > 0 && p <= waves[i-1]:
			return fmt.Errorf("waves: %s after %s: each wave must reach more of the targets than the one before", fmtPct(p), fmtPct(waves[i-1]))
		}
	}
	if last := waves[len(waves)-1]; last != 100 {
		return fmt.Errorf("waves: the last wave is %s: it must be 100, so every target is promoted", fmtPct(last))
	}
	return nil
}

// ValidateGateTimeout checks a gate timeout (0 takes the default).
func ValidateGateTimeout(d time.Duration) error {
	if d != 0 && (d < MinGateTimeout || d > MaxGateTimeout) {
		return fmt.Errorf("gate_timeout: must be between %s and %s, got %s", MinGateTimeout, MaxGateTimeout, d)
	}
	return nil
}

func fmtPct(p float64) string { return strconv.FormatFloat(p, 'g', -1, 64) }

// PlanWaves sizes the waves for n targets: wave i brings the promoted
// agents to ceil(waves[i]% of n), and at least one more than the wave
// before. Waves left with nothing to add are dropped; the wave that reaches
// every target is labelled 100.
func PlanWaves(waves []float64, n int) []apitypes.RolloutWave {
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

// Promote promotes the candidate in the default waves.
func (c *Controller) Promote(ctx context.Context, id string) (Experiment, error) {
	return c.PromoteWith(ctx, id, apitypes.PromoteRequest{})
}

// PromoteWith starts a progressive promotion of a completed experiment's
// candidate, rendered on its own with the experiment's collector
// parameters: the first wave is assigned before it returns, the rest by
// the reconcile loop as each gate passes.
func (c *Controller) PromoteWith(ctx context.Context, id string, req apitypes.PromoteRequest) (Experiment, error) {
	waves := req.Waves
	if len(waves) == 0 {
		waves = DefaultWaves()
	}
	if err := ValidateWaves(waves); err != nil {
		return Experiment{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	if err := ValidateGateTimeout(req.GateTimeout.D()); err != nil {
		return Experiment{}, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	timeout := req.GateTimeout
	if timeout == 0 {
		timeout = apitypes.Duration(DefaultGateTimeout)
	}
	x, err := c.update(ctx, id, func(x *Experiment) error {
		if x.Status != apitypes.ExperimentCompleted {
			return fmt.Errorf("%w: only a completed experiment can be promoted (it is %s)", ErrState, x.Status)
		}
		if err := promotable(x.State); err != nil {
			return err
		}
		// Every target renders before any is assigned: a problem is the
		// caller's error now, not a halted rollout later.
		for _, t := range x.State.Targets {
			if _, err := c.promoted(ctx, *x, t); err != nil {
				return err
			}
		}
		x.State.Rollout = c.plan(*x, waves, timeout)
		x.State.Promoted, x.State.RolledBack = true, false
		return nil
	})
	if err != nil {
		return x, err
	}
	c.event(ctx, x.ID, "promoting in "+describeWaves(x.State.Rollout))
	c.noteRollout(x.ID)
	// The first wave goes out now, under the experiment's lock like any step.
	c.mu.Lock()
	if err := c.stepOwned(ctx, id); err != nil {
		c.log.Warn("starting the rollout's first wave failed; the reconcile loop retries", "id", id, "error", err)
	}
	c.mu.Unlock()
	return c.Get(ctx, id)
}

// promotable refuses a promote while the candidate is, or was left, out.
func promotable(s apitypes.ExperimentState) error {
	r := s.Rollout
	switch {
	case r == nil:
		if s.Promoted && !s.RolledBack {
			return fmt.Errorf("%w: already promoted", ErrState)
		}
	case r.State.Active():
		return fmt.Errorf("%w: a rollout is in progress (wave %d of %d)", ErrState, min(r.Current()+1, len(r.Waves)), len(r.Waves))
	case r.State == apitypes.RolloutCompleted:
		return fmt.Errorf("%w: already promoted", ErrState)
	case r.State == apitypes.RolloutHalted:
		return fmt.Errorf("%w: the rollout halted (%s): roll back first (phoenix experiment rollback), then promote again", ErrState, r.Reason)
	}
	return nil
}

// plan divides the targets into waves, in the targets' order.
func (c *Controller) plan(x Experiment, waves []float64, timeout apitypes.Duration) *apitypes.Rollout {
	minRetention := analysis.DefaultMinCriticalRetention
	if v := x.Spec.SuccessCriteria.MinCriticalRetention; v != nil {
		minRetention = *v
	}
	r := &apitypes.Rollout{State: apitypes.RolloutRolling, GateTimeout: timeout, MinCriticalRetention: minRetention,
		StartedAt: c.set.Now(), Waves: PlanWaves(waves, len(x.State.Targets))}
	next := 0
	for i := range r.Waves {
		for _, t := range x.State.Targets[next : next+r.Waves[i].Size] {
			r.Waves[i].Agents = append(r.Waves[i].Agents, apitypes.RolloutAgent{InstanceUID: t.InstanceUID, Host: t.Host})
		}
		next += r.Waves[i].Size
	}
	return r
}

func describeWaves(r *apitypes.Rollout) string {
	parts := make([]string, len(r.Waves))
	for i, w := range r.Waves {
		parts[i] = fmt.Sprintf("%s%% (+%d)", fmtPct(w.Percent), w.Size)
	}
	return fmt.Sprintf("%d wave(s): %s; gate timeout %s", len(r.Waves), strings.Join(parts, ", "), r.GateTimeout.D())
}

// promoted renders the candidate for one target as its new configuration.
func (c *Controller) promoted(ctx context.Context, x Experiment, t apitypes.ExperimentTarget) (apitypes.Assignment, error) {
	// The shared parameters of a current baseline come from it.
	if _, err := c.baseline(x, t); err != nil {
		return apitypes.Assignment{}, err
	}
	shared, err := c.sharedParams(x, t)
	if err != nil {
		return apitypes.Assignment{}, err
	}
	cand := catalog.Ref{Pipeline: x.Spec.Candidate.Pipeline, Params: x.Spec.Candidate.Parameters}
	asg, err := c.single(ctx, x, t.InstanceUID, cand, shared, "")
	if err != nil {
		return asg, fmt.Errorf("rendering the candidate for %s: %w", t.InstanceUID, err)
	}
	return asg, nil
}

func target(x Experiment, uid string) apitypes.ExperimentTarget {
	for _, t := range x.State.Targets {
		if t.InstanceUID == uid {
			return t
		}
	}
	return apitypes.ExperimentTarget{InstanceUID: uid}
}
