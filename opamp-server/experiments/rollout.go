package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
// candidate (req.Candidate names which of several; the rollout keeps it),
// rendered on its own with the experiment's collector
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
		name, err := promoteCandidate(*x, req.Candidate)
		if err != nil {
			return err
		}
		// The plan names the candidate promoted() renders; nothing is
		// saved unless every target renders.
		next := *x
		next.State.Rollout = c.plan(*x, waves, timeout)
		next.State.Rollout.Candidate = name
		// Every target renders before any is assigned: a problem is the
		// caller's error now, not a halted rollout later.
		for _, t := range x.State.Targets {
			if _, err := c.promoted(ctx, next, t); err != nil {
				return err
			}
		}
		x.State.Rollout = next.State.Rollout
		x.State.Promoted, x.State.RolledBack = true, false
		return nil
	})
	if err != nil {
		return x, err
	}
	what := "promoting"
	if len(x.Spec.Candidates) > 0 {
		what = "promoting candidate " + x.State.Rollout.Candidate
	}
	c.event(ctx, x.ID, what+" in "+describeWaves(x.State.Rollout))
	c.noteRollout(x.ID)
	// The first wave goes out now, under the experiment's lock like any step.
	c.mu.Lock()
	if err := c.stepOwned(ctx, id); err != nil {
		c.log.Warn("starting the rollout's first wave failed; the reconcile loop retries", "id", id, "error", err)
	}
	c.mu.Unlock()
	return c.Get(ctx, id)
}

// promoteCandidate is the candidate a promote names: with several, one of
// their names, exactly; with one, "" or "candidate". A wrong name is the
// caller's error, listing the names and the recommended one.
func promoteCandidate(x Experiment, name string) (string, error) {
	if len(x.Spec.Candidates) == 0 {
		if name != "" && name != apitypes.VariantCandidate {
			return "", fmt.Errorf("%w: promote: candidate: the experiment has a single candidate: leave the name out or give %q, not %s",
				ErrInvalidRequest, apitypes.VariantCandidate, quoteShort(name))
		}
		return apitypes.VariantCandidate, nil
	}
	names := x.Spec.CandidateNames()
	if slices.Contains(names, name) {
		return name, nil
	}
	recommended := "none (no candidate met every criterion)"
	if r := x.State.Results; r != nil && r.Recommended != "" {
		recommended = r.Recommended
	}
	problem := "name the candidate to promote (--candidate)"
	if name != "" {
		problem = "no candidate is named " + quoteShort(name) + " (names are case-sensitive)"
	}
	return "", fmt.Errorf("%w: promote: %s: one of %s; recommended: %s", ErrInvalidRequest, problem, strings.Join(names, ", "), recommended)
}

// quoteShort quotes a name given by a caller, cut to a length an error can
// show.
func quoteShort(s string) string {
	const most = 64
	if len(s) > most {
		return strconv.Quote(s[:most]) + "…"
	}
	return strconv.Quote(s)
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

// promotedRef is the candidate the rollout promotes: the one it names
// among several (stored, so a restarted rollout promotes the same), or the
// single candidate.
func promotedRef(x Experiment) (catalog.Ref, error) {
	if len(x.Spec.Candidates) == 0 {
		return catalog.Ref{Pipeline: x.Spec.Candidate.Pipeline, Params: x.Spec.Candidate.Parameters}, nil
	}
	name := ""
	if x.State.Rollout != nil {
		name = x.State.Rollout.Candidate
	}
	for _, c := range x.Spec.Candidates {
		if c.Name == name {
			return catalog.Ref{Pipeline: c.Pipeline, Params: c.Parameters}, nil
		}
	}
	return catalog.Ref{}, fmt.Errorf("the rollout names no candidate of the experiment (%s)", quoteShort(name))
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
	cand, err := promotedRef(x)
	if err != nil {
		return apitypes.Assignment{}, err
	}
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
