package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// criticalLookback is how far before a wave its agents' critical processes
// are looked for, the figure the gate compares with.
const criticalLookback = 10 * time.Minute

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

func waveName(r *apitypes.Rollout, i int) string {
	return fmt.Sprintf("wave %d of %d (%s%%, %d agent(s))", i+1, len(r.Waves), fmtPct(r.Waves[i].Percent), r.Waves[i].Size)
}

// startWave renders the candidate for the wave's agents, records what each
// replaces, saves, and only then assigns.
func (c *Controller) startWave(ctx context.Context, x Experiment, i int) error {
	r := x.State.Rollout
	w := &r.Waves[i]
	now := c.set.Now()
	asgs := make([]apitypes.Assignment, 0, len(w.Agents))
	for j := range w.Agents {
		a := &w.Agents[j]
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
			a.Before = &cur
		}
		if a.CriticalBefore, err = c.criticalBefore(ctx, a.InstanceUID, now); err != nil {
			return err
		}
		asg.Reason = fmt.Sprintf("promoted from experiment %s (%s), wave %d of %d", x.Name, x.ID, i+1, len(r.Waves))
		asgs = append(asgs, asg)
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
	now := c.set.Now()
	before := *w
	progressed := false
	var waiting []string
	for j := range w.Agents {
		a := &w.Agents[j]
		if a.Passed {
			continue
		}
		changed, why, err := c.gate(ctx, x, a, r.MinCriticalRetention, now)
		if err != nil {
			var failed gateFailure
			if errors.As(err, &failed) {
				return c.failWave(ctx, x, i, err.Error())
			}
			return err
		}
		progressed = progressed || changed
		if !a.Passed {
			waiting = append(waiting, fmt.Sprintf("agent %s (%s): %s", a.InstanceUID, a.Host, why))
		}
	}
	countWave(w)
	if len(waiting) == 0 {
		w.State, w.FinishedAt, w.Reason = apitypes.WavePassed, now, ""
		if err := c.save(ctx, &x); err != nil {
			return err
		}
		c.event(ctx, x.ID, waveName(r, i)+" passed its gate")
		return c.stepRollout(ctx, x) // on to the next wave at once
	}
	if now.Sub(w.StartedAt) > r.GateTimeout.D() {
		return c.failWave(ctx, x, i, fmt.Sprintf("%d agent(s) did not pass the gate within %s: %s",
			len(waiting), r.GateTimeout.D(), strings.Join(waiting, "; ")))
	}
	w.Reason = "waiting: " + waiting[0]
	if len(waiting) > 1 {
		w.Reason += fmt.Sprintf(" (and %d more)", len(waiting)-1)
	}
	if !progressed && w.State == before.State && w.Reason == before.Reason {
		return nil // nothing learnt: a write would only wake every replica
	}
	return c.save(ctx, &x)
}

// countWave sums the wave's agents into its counters and its state.
func countWave(w *apitypes.RolloutWave) {
	w.Applied, w.Healthy, w.Reporting = 0, 0, 0
	for _, a := range w.Agents {
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
	if w.Applied == len(w.Agents) {
		w.State = apitypes.WaveGated
	}
}

// gateFailure is an agent that cannot pass its gate: the wave fails.
type gateFailure string

func (g gateFailure) Error() string { return string(g) }

// gate updates one agent's progress through the gate: APPLIED on the
// candidate and healthy, then own telemetry from after the apply with its
// critical processes kept. It reports whether anything changed, and what
// the agent still waits for; a gateFailure when it cannot pass.
func (c *Controller) gate(ctx context.Context, x Experiment, a *apitypes.RolloutAgent, minRetention float64, now time.Time) (bool, string, error) {
	ag, err := c.set.Store.GetAgent(ctx, a.InstanceUID)
	if errors.Is(err, store.ErrNotFound) {
		return false, "unknown agent", nil
	}
	if err != nil {
		return false, "", err
	}
	name := fmt.Sprintf("agent %s (%s)", a.InstanceUID, a.Host)
	if slices.Contains(ag.FailedConfigHashes, a.ConfigHash) && !ag.Retrying(a.ConfigHash) ||
		ag.RemoteConfig.Hash == a.ConfigHash && ag.RemoteConfig.Status == apitypes.ConfigStatusFailed && !ag.Retrying(a.ConfigHash) {
		return false, "", gateFailure(fmt.Sprintf("%s could not apply the candidate: %s", name, ag.RemoteConfig.ErrorMessage))
	}
	onIt := ag.RemoteConfig.Hash == a.ConfigHash && ag.RemoteConfig.Status == apitypes.ConfigStatusApplied
	healthy := ag.Health != nil && ag.Health.Healthy
	if a.AppliedAt.IsZero() {
		if !onIt || !healthy {
			resent, err := c.resumeWave(ctx, x, *a)
			if err != nil {
				return false, "", gateFailure(err.Error())
			}
			return resent, "not applied yet", nil
		}
		a.AppliedAt, a.Healthy = now, true
		return true, "no own telemetry since applying yet", c.telemetry(ctx, a, minRetention)
	}
	switch {
	case ag.RemoteConfig.Hash != a.ConfigHash:
		return false, "", gateFailure(fmt.Sprintf("%s no longer runs the candidate (it reports %s %s)", name, shortHash(ag.RemoteConfig.Hash), ag.RemoteConfig.Status))
	case !onIt:
		return false, "applying the candidate again", nil // sent again: wait for its report
	case !healthy:
		msg := "no health reported"
		if ag.Health != nil {
			msg = strings.TrimSpace(ag.Health.Status + " " + ag.Health.LastError)
		}
		return false, "", gateFailure(fmt.Sprintf("%s went unhealthy on the candidate: %s", name, msg))
	}
	was := *a
	if err := c.telemetry(ctx, a, minRetention); err != nil {
		return false, "", err
	}
	changed := a.Reporting != was.Reporting || a.Passed != was.Passed
	switch {
	case !a.Reporting:
		return changed, "no own telemetry since applying yet", nil
	case !a.Passed:
		return changed, "no critical-process count in its own telemetry yet", nil
	}
	return changed, "", nil
}

// telemetry looks for own telemetry from a whole minute after the apply
// was seen (earlier minutes may hold the previous collector's), and
// compares its critical processes with those before the wave.
func (c *Controller) telemetry(ctx context.Context, a *apitypes.RolloutAgent, minRetention float64) error {
	from := a.AppliedAt.Truncate(time.Minute).Add(time.Minute)
	samples, err := c.set.Store.QuerySamples(ctx, store.SampleQuery{InstanceUID: a.InstanceUID, From: from})
	if err != nil || len(samples) == 0 {
		return err
	}
	a.Reporting = true
	after, ok := latestCritical(samples)
	if !ok {
		if a.CriticalBefore == nil {
			a.Passed = true // nothing to compare: the previous pipeline counted none
		}
		return nil
	}
	a.CriticalAfter = &after
	if a.CriticalBefore != nil && *a.CriticalBefore > 0 {
		if retention := after / *a.CriticalBefore; retention < minRetention-1e-9 {
			return gateFailure(fmt.Sprintf("agent %s (%s) keeps %g of its %g critical processes (retention %.1f%%, %.1f%% required)",
				a.InstanceUID, a.Host, after, *a.CriticalBefore, 100*retention, 100*minRetention))
		}
	}
	a.Passed = true
	return nil
}

// criticalBefore is an agent's critical processes in its latest own
// telemetry before now, or nil when it sent none lately.
func (c *Controller) criticalBefore(ctx context.Context, uid string, now time.Time) (*float64, error) {
	samples, err := c.set.Store.QuerySamples(ctx, store.SampleQuery{InstanceUID: uid, Name: analysis.SeriesCriticalProcesses,
		From: now.Add(-criticalLookback), To: now.Add(time.Minute)})
	if err != nil {
		return nil, err
	}
	v, ok := latestCritical(samples)
	if !ok {
		return nil, nil
	}
	return &v, nil
}

// latestCritical is the critical-process gauge of the latest minute that
// has one, the largest of its variants (a meter per pipeline).
func latestCritical(samples []apitypes.Sample) (float64, bool) {
	var at time.Time
	v, ok := 0.0, false
	for _, s := range samples {
		if s.Name != analysis.SeriesCriticalProcesses {
			continue
		}
		switch {
		case s.Minute.After(at):
			at, v, ok = s.Minute, s.Value, true
		case s.Minute.Equal(at):
			v = max(v, s.Value)
		}
	}
	return v, ok
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
	countWave(w)
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

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "nothing"
	}
	return h
}
