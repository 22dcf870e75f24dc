package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/wavegate"
	"github.com/phoenix/platform/pipelines/catalog"
)

// ErrInvalidRequest: an action's options are invalid (a promote's waves).
var ErrInvalidRequest = errors.New("invalid request")

// Progressive promotion defaults and bounds.
const (
	// MaxWaves bounds a rollout's waves: more only adds waiting.
	MaxWaves           = wavegate.MaxWaves
	DefaultGateTimeout = 5 * time.Minute
	MinGateTimeout     = 10 * time.Second
	// MaxGateTimeout, like the spec's times: a wave holds the rollout.
	MaxGateTimeout = time.Hour
)

// The waves' plan and checks are every rollout's (package wavegate).
var (
	DefaultWaves  = wavegate.DefaultWaves
	ValidateWaves = wavegate.ValidateWaves
	PlanWaves     = wavegate.Plan
	fmtPct        = wavegate.Pct
)

// ValidateGateTimeout checks a promote's gate timeout (0 takes the default).
func ValidateGateTimeout(d time.Duration) error {
	return wavegate.ValidateGateTimeout(d, MinGateTimeout, MaxGateTimeout)
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
