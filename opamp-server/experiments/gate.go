package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/wavegate"
)

// stepRollout moves a progressive promotion forward: it starts the next
// wave, checks the current wave's gate, or rolls a failed wave back. Like
// the deploy, every save comes before the side effects it records, and
// each side effect is repeated safely by whichever replica steps next.
func (c *Controller) stepRollout(ctx context.Context, x Experiment) error {
	r := x.State.Rollout
	if r.State == apitypes.RolloutHalting {
		return c.rollBackWave(ctx, x)
	}
	i := r.Current()
	if i == len(r.Waves) {
		r.State, r.FinishedAt = apitypes.RolloutCompleted, c.set.Now()
		if err := c.save(ctx, &x); err != nil {
			return err
		}
		c.event(ctx, x.ID, "rollout complete: the candidate runs on every target")
		return nil
	}
	switch r.Waves[i].State {
	case apitypes.WavePending:
		return c.startWave(ctx, x, i)
	case apitypes.WaveFailed: // saved failed but not halting: finish the halt
		r.State = apitypes.RolloutHalting
		return c.rollBackWave(ctx, x)
	default:
		return c.checkWave(ctx, x, i)
	}
}

var waveName = wavegate.WaveName

// startWave renders the candidate for the wave's agents, records what each
// replaces, saves, and only then assigns.
func (c *Controller) startWave(ctx context.Context, x Experiment, i int) error {
	r := x.State.Rollout
	w := &r.Waves[i]
	now := c.set.Now()
	if err := wavegate.MarkRemoved(ctx, c.set.Store, w); err != nil {
		return err
	}
	asgs := make([]apitypes.Assignment, 0, len(w.Agents))
	uids := make([]string, 0, len(w.Agents))
	for j := range w.Agents {
		a := &w.Agents[j]
		if a.Removed {
			continue
		}
		uids = append(uids, a.InstanceUID)
		t := target(x, a.InstanceUID)
		asg, err := c.promoted(ctx, x, t)
		if err != nil {
			return c.failWave(ctx, x, i, err.Error())
		}
		cur, err := c.set.Store.GetAssignment(ctx, a.InstanceUID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		a.ConfigHash, a.BeforeGeneration = asg.ConfigHash, cur.Generation
		if err == nil && cur.ConfigHash != t.Previous.ConfigHash {
			slim := c.set.Assignments.Slim(ctx, cur)
			a.Before = &slim
		}
		asg.Reason = fmt.Sprintf("promoted from experiment %s (%s), wave %d of %d", x.Name, x.ID, i+1, len(r.Waves))
		asgs = append(asgs, asg)
	}
	// Read for the whole wave at once, once it rendered.
	before, err := wavegate.CriticalBefore(ctx, c.set.Store, uids, now)
	if err != nil {
		return err
	}
	for j := range w.Agents {
		a := &w.Agents[j]
		a.CriticalBefore = nil
		if v, ok := before[a.InstanceUID]; ok {
			a.CriticalBefore = &v
		}
	}
	w.State, w.StartedAt = apitypes.WaveRolling, now
	if err := c.save(ctx, &x); err != nil {
		return err
	}
	c.event(ctx, x.ID, waveName(r, i)+": candidate assigned")
	if _, err := c.set.Assignments.Store(ctx, asgs...); err != nil {
		return fmt.Errorf("assigning %s: %w", waveName(r, i), err) // the next step resumes
	}
	return nil
}

// checkWave looks at every agent of the wave not yet through its gate,
// fails the wave at the first agent that cannot pass or when the gate times
// out, and starts the next wave once all passed.
func (c *Controller) checkWave(ctx context.Context, x Experiment, i int) error {
	r := x.State.Rollout
	w := &r.Waves[i]
	changed, err := wavegate.CheckWave(ctx, c.set.Store, w, candidate(r), r.GateTimeout.D(), c.set.Now(),
		func(a apitypes.RolloutAgent) (bool, error) { return c.resumeWave(ctx, x, a) })
	switch {
	case wavegate.IsFailure(err):
		return c.failWave(ctx, x, i, err.Error())
	case err != nil:
		return err
	case w.State == apitypes.WavePassed:
		if err := c.save(ctx, &x); err != nil {
			return err
		}
		c.event(ctx, x.ID, waveName(r, i)+" passed its gate")
		return c.stepRollout(ctx, x) // on to the next wave at once
	case !changed:
		return nil
	}
	return c.save(ctx, &x)
}

// candidate is what a promote's gate asks of each agent: the experiment's
// critical retention.
func candidate(r *apitypes.Rollout) wavegate.Criteria {
	return wavegate.Criteria{What: "the candidate", MinCriticalRetention: &r.MinCriticalRetention}
}

// resumeWave assigns an agent's candidate again when the wave's assignment
// was interrupted after the save that started it; like resumeAssignment,
// it leaves an assignment someone else made meanwhile alone.
func (c *Controller) resumeWave(ctx context.Context, x Experiment, a apitypes.RolloutAgent) (bool, error) {
	cur, err := c.set.Store.GetAssignment(ctx, a.InstanceUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return false, nil // the store is down: the next round retries
	case cur.ConfigHash == a.ConfigHash || cur.Generation != a.BeforeGeneration:
		return false, nil
	}
	asg, err := c.promoted(ctx, x, target(x, a.InstanceUID))
	if err != nil {
		return false, fmt.Errorf("re-rendering after an interrupted wave: %w", err)
	}
	if asg.ConfigHash != a.ConfigHash {
		return false, fmt.Errorf("agent %s: the candidate renders differently than when the wave began (the catalog or the agent changed)", a.InstanceUID)
	}
	asg.Reason = "promoted from experiment " + x.Name + " (" + x.ID + "), resumed"
	if _, err := c.set.Assignments.Store(ctx, asg); err != nil {
		return false, nil
	}
	c.event(ctx, x.ID, fmt.Sprintf("agent %s (%s): the interrupted wave assigned the candidate again", a.InstanceUID, a.Host))
	return true, nil
}

// failWave records why a wave failed and halts the rollout, then rolls
// the wave back.
func (c *Controller) failWave(ctx context.Context, x Experiment, i int, reason string) error {
	r := x.State.Rollout
	w := &r.Waves[i]
	wavegate.Count(w)
	w.State, w.FinishedAt, w.Reason = apitypes.WaveFailed, c.set.Now(), reason
	r.State, r.Reason = apitypes.RolloutHalting, waveName(r, i)+" failed its gate: "+reason
	if err := c.save(ctx, &x); err != nil {
		return err
	}
	c.event(ctx, x.ID, "rollout halted: "+r.Reason+"; rolling the wave back")
	return c.rollBackWave(ctx, x)
}

// rollBackWave gives the failed wave's agents the assignment the wave
// replaced, where the candidate is still theirs; earlier waves stay.
func (c *Controller) rollBackWave(ctx context.Context, x Experiment) error {
	r := x.State.Rollout
	i := r.Current()
	if i == len(r.Waves) {
		i--
	}
	n := 0
	for _, a := range r.Waves[i].Agents {
		cur, err := c.set.Store.GetAssignment(ctx, a.InstanceUID)
		if errors.Is(err, store.ErrNotFound) || err == nil && (a.ConfigHash == "" || cur.ConfigHash != a.ConfigHash) {
			continue // never assigned, or no longer the candidate
		}
		if err != nil {
			return err
		}
		prev := target(x, a.InstanceUID).Previous
		if a.Before != nil {
			prev = *a.Before
		}
		prev, err = c.set.Assignments.Restorable(ctx, prev)
		if err != nil {
			return fmt.Errorf("rolling back %s: %w", a.InstanceUID, err) // the next step retries
		}
		prev.Reason = fmt.Sprintf("rolled back: %s of experiment %s (%s) failed its gate", waveName(r, i), x.Name, x.ID)
		prev.AssignedAt, prev.Generation = time.Time{}, 0
		if _, err := c.set.Assignments.Store(ctx, prev); err != nil {
			return fmt.Errorf("rolling back %s: %w", a.InstanceUID, err) // the next step retries
		}
		n++
	}
	r.State, r.FinishedAt = apitypes.RolloutHalted, c.set.Now()
	if err := c.save(ctx, &x); err != nil {
		return err
	}
	c.event(ctx, x.ID, fmt.Sprintf("%s rolled back: %d agent(s) got their previous assignment back; earlier waves stay promoted", waveName(r, i), n))
	return nil
}
