package assignment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/wavegate"
)

// RolloutScanEvery is how often Run steps the active rollouts.
const RolloutScanEvery = 5 * time.Second

// Run steps every active rollout each RolloutScanEvery until ctx ends, on
// every replica. Each replica may step the same rollout: a step reads the
// stored document, and saves it with a compare-and-swap on its version
// before the side effects the save records (assigning a wave, restoring
// one). Of two replicas stepping at once one save wins and the other gets
// store.ErrConflict and does nothing; what the winner does after saving is
// safe to repeat (a wave assigns only over the assignment it replaced; a
// restore only where the wave's configuration is still assigned), so the
// next step, on any replica or after a restart, finishes it. No lock is
// needed, unlike an experiment's transitions, which deploy a fleet.
func (r *Rollouts) Run(ctx context.Context) {
	t := time.NewTicker(RolloutScanEvery)
	defer t.Stop()
	for {
		r.StepAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StepAll steps every active rollout once.
func (r *Rollouts) StepAll(ctx context.Context) {
	recs, err := r.svc.set.Store.ListRollouts(ctx, store.RolloutFilter{Active: true, Limit: store.MaxPageLimit})
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("listing active rollouts failed", "error", err)
		}
		return
	}
	for _, rec := range recs {
		if err := r.Step(ctx, rec.ID); err != nil && !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
			r.log.Warn("rollout step failed", "rollout", rec.ID, "error", err)
		}
	}
}

// Step moves one rollout forward: it starts the next wave, checks the
// current wave's gate, or restores a failed wave.
func (r *Rollouts) Step(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, doc, err := r.load(ctx, id)
	if err != nil || !doc.State.Active() {
		return err
	}
	return (&stepper{r: r, rec: rec, doc: &doc}).step(ctx)
}

// stepper is one step of one rollout: the record it read and its document.
type stepper struct {
	r   *Rollouts
	rec store.Rollout
	doc *rolloutDoc
}

// newConfig is what an assignment's gate asks: no critical retention,
// since a plain assignment has no experiment to say how much.
var newConfig = wavegate.Criteria{What: "the new configuration"}

// save stores the document if nobody stepped the rollout since it was
// read (store.ErrConflict otherwise).
func (s *stepper) save(ctx context.Context) error {
	raw, err := json.Marshal(s.doc)
	if err != nil {
		return err
	}
	s.rec.Doc, s.rec.Active = raw, s.doc.State.Active()
	rec, err := s.r.svc.set.Store.UpdateRollout(ctx, s.rec)
	if err != nil {
		return err
	}
	s.rec = rec
	return nil
}

func (s *stepper) step(ctx context.Context) error {
	ro := &s.doc.Rollout
	if ro.State == apitypes.RolloutHalting {
		return s.restore(ctx)
	}
	i := ro.Current()
	if i == len(ro.Waves) {
		ro.State, ro.FinishedAt = apitypes.RolloutCompleted, s.r.now().UTC()
		if err := s.save(ctx); err != nil {
			return err
		}
		s.r.log.Info("progressive assignment complete", "rollout", s.doc.ID)
		return nil
	}
	switch ro.Waves[i].State {
	case apitypes.WavePending:
		return s.startWave(ctx, i)
	case apitypes.WaveFailed: // saved failed but not halting: finish the halt
		ro.State = apitypes.RolloutHalting
		return s.restore(ctx)
	}
	return s.checkWave(ctx, i)
}

// render renders the rollout's configuration for one agent, as the caller
// who started it could.
func (s *stepper) render(ctx context.Context, uid string) (apitypes.Assignment, error) {
	asg, err := s.r.svc.FromRequest(ctx, uid, s.doc.request(), Grants{HostAccess: s.doc.HostAccess})
	if err != nil {
		return asg, fmt.Errorf("rendering for agent %s: %w", uid, err)
	}
	return asg, nil
}

func (s *stepper) reason(i int) string {
	r := s.doc.AssignmentReason
	if r != "" {
		r += "; "
	}
	return fmt.Sprintf("%srollout %s, %s", r, s.doc.ID, wavegate.WaveName(&s.doc.Rollout, i))
}

// startWave renders the wave's configurations, records what each replaces
// (the wave in progress is the only one that keeps it), saves, and only
// then assigns.
func (s *stepper) startWave(ctx context.Context, i int) error {
	w := &s.doc.Waves[i]
	if err := wavegate.MarkRemoved(ctx, s.r.svc.set.Store, w); err != nil {
		return err
	}
	asgs := make([]apitypes.Assignment, 0, len(w.Agents))
	for j := range w.Agents {
		a := &w.Agents[j]
		if a.Removed {
			continue
		}
		asg, err := s.render(ctx, a.InstanceUID)
		if err != nil {
			return s.failWave(ctx, i, err.Error())
		}
		cur, err := s.r.svc.set.Store.GetAssignment(ctx, a.InstanceUID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		a.ConfigHash, a.BeforeGeneration, a.Before = asg.ConfigHash, cur.Generation, nil
		if err == nil {
			slim := s.r.svc.Slim(ctx, cur)
			a.Before = &slim
		}
		asg.Reason = s.reason(i)
		asgs = append(asgs, asg)
	}
	w.State, w.StartedAt = apitypes.WaveRolling, s.r.now().UTC()
	if err := s.save(ctx); err != nil {
		return err
	}
	if _, err := s.r.svc.Store(ctx, asgs...); err != nil {
		return fmt.Errorf("assigning %s: %w", wavegate.WaveName(&s.doc.Rollout, i), err) // the next step resumes
	}
	return nil
}

// checkWave takes the wave's agents through their gate, fails the wave
// when one cannot pass, and starts the next once all passed.
func (s *stepper) checkWave(ctx context.Context, i int) error {
	ro := &s.doc.Rollout
	w := &ro.Waves[i]
	changed, err := wavegate.CheckWave(ctx, s.r.svc.set.Store, w, newConfig, ro.GateTimeout.D(), s.r.now().UTC(),
		func(a apitypes.RolloutAgent) (bool, error) { return s.resume(ctx, i, a) })
	switch {
	case wavegate.IsFailure(err):
		return s.failWave(ctx, i, err.Error())
	case err != nil:
		return err
	case w.State == apitypes.WavePassed:
		for j := range w.Agents {
			w.Agents[j].Before = nil // a passed wave keeps the new configuration
		}
		if err := s.save(ctx); err != nil {
			return err
		}
		s.r.log.Info("rollout wave passed its gate", "rollout", s.doc.ID, "wave", i+1)
		return s.step(ctx) // on to the next wave at once
	case !changed:
		return nil
	}
	return s.save(ctx)
}

// resume assigns an agent's configuration again when the wave's
// assignment was interrupted after the save that started it; it leaves an
// assignment someone else made meanwhile alone.
func (s *stepper) resume(ctx context.Context, i int, a apitypes.RolloutAgent) (bool, error) {
	cur, err := s.r.svc.set.Store.GetAssignment(ctx, a.InstanceUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return false, nil // the store is down: the next round retries
	case cur.ConfigHash == a.ConfigHash || cur.Generation != a.BeforeGeneration:
		return false, nil
	}
	asg, err := s.render(ctx, a.InstanceUID)
	if err != nil {
		return false, fmt.Errorf("re-rendering after an interrupted wave: %w", err)
	}
	if asg.ConfigHash != a.ConfigHash {
		return false, fmt.Errorf("agent %s: the configuration renders differently than when the wave began (the catalog or the agent changed)", a.InstanceUID)
	}
	asg.Reason = s.reason(i) + ", resumed"
	if _, err := s.r.svc.Store(ctx, asg); err != nil {
		return false, nil
	}
	return true, nil
}

// failWave records why a wave failed and halts the rollout, then restores
// the wave.
func (s *stepper) failWave(ctx context.Context, i int, reason string) error {
	ro := &s.doc.Rollout
	w := &ro.Waves[i]
	wavegate.Count(w)
	w.State, w.FinishedAt, w.Reason = apitypes.WaveFailed, s.r.now().UTC(), reason
	ro.State, ro.Reason = apitypes.RolloutHalting, wavegate.WaveName(ro, i)+" failed its gate: "+reason
	if err := s.save(ctx); err != nil {
		return err
	}
	s.r.log.Warn("rollout halted", "rollout", s.doc.ID, "reason", ro.Reason)
	return s.restore(ctx)
}

// restore gives the failed wave's agents the assignment the wave replaced,
// or none when they had none, where the wave's configuration is still
// theirs; earlier waves keep the new configuration.
func (s *stepper) restore(ctx context.Context) error {
	ro := &s.doc.Rollout
	var agents []apitypes.RolloutAgent
	i := min(ro.Current(), len(ro.Waves)-1)
	if i >= 0 {
		agents = ro.Waves[i].Agents
	}
	for _, a := range agents {
		cur, err := s.r.svc.set.Store.GetAssignment(ctx, a.InstanceUID)
		if errors.Is(err, store.ErrNotFound) || err == nil && (a.ConfigHash == "" || cur.ConfigHash != a.ConfigHash) {
			continue // never assigned, or no longer the wave's
		}
		if err != nil {
			return err
		}
		if a.Before == nil {
			if err := s.r.svc.Unassign(ctx, a.InstanceUID); err != nil {
				return fmt.Errorf("restoring %s: %w", a.InstanceUID, err) // the next step retries
			}
			continue
		}
		prev, err := s.r.svc.Restorable(ctx, *a.Before)
		if err != nil {
			return fmt.Errorf("restoring %s: %w", a.InstanceUID, err)
		}
		prev.Reason = fmt.Sprintf("restored: %s halted at %s", s.doc.ID, wavegate.WaveName(ro, i))
		prev.AssignedAt, prev.Generation = time.Time{}, 0
		if _, err := s.r.svc.Store(ctx, prev); err != nil {
			return fmt.Errorf("restoring %s: %w", a.InstanceUID, err) // the next step retries
		}
	}
	ro.State, ro.FinishedAt = apitypes.RolloutHalted, s.r.now().UTC()
	return s.save(ctx)
}
