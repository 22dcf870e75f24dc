package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// Errors the API maps onto HTTP statuses.
var (
	// ErrState: the operation does not fit the experiment's status.
	ErrState = errors.New("not allowed in this state")
	// ErrInvalidSpec: the spec is invalid.
	ErrInvalidSpec = errors.New("invalid experiment spec")
)

// analyze computes the results from the measurement window and completes
// the experiment, returning the targets to their previous configurations.
func (c *Controller) analyze(ctx context.Context, x Experiment) error {
	results, err := c.measure(ctx, x, x.State.EndsAt)
	if err != nil {
		return c.fail(ctx, x, "analysis: "+err.Error())
	}
	x.State.Results = &results
	x.State.Verdict = "fail"
	if results.Verdict.Pass {
		x.State.Verdict = "pass"
	}
	return c.finish(ctx, x, apitypes.ExperimentCompleted, "analysed: verdict "+x.State.Verdict)
}

// measure analyses the samples of every target from the start of the
// measurement window to until, reading many targets' samples per call.
func (c *Controller) measure(ctx context.Context, x Experiment, until time.Time) (apitypes.Results, error) {
	samples := make(map[string][]apitypes.Sample, len(x.State.Targets))
	// One minute before the window gives counters a starting point.
	from, to := x.State.MeasureFrom.Add(-time.Minute), until.Add(time.Minute)
	uids := make([]string, len(x.State.Targets))
	for i, t := range x.State.Targets {
		uids[i] = t.InstanceUID
		samples[t.InstanceUID] = []apitypes.Sample{}
	}
	// The baseline and every candidate.
	variants := 1 + len(x.Spec.CandidateNames())
	for page := range slices.Chunk(uids, measurePage(from, to, variants)) {
		got, err := c.set.Store.QueryAgentsSamples(ctx, page, store.SampleQuery{From: from, To: to})
		if err != nil {
			return apitypes.Results{}, err
		}
		for uid, s := range got {
			samples[uid] = s
		}
	}
	return c.set.Analyze(ctx, x, samples)
}

// measureAgentMinutes bounds the agents times minutes one read of
// measure covers for a paired agent's two variants (about 45 series a
// minute: some 900,000 samples), so that a long window's read stays well
// inside the store's call deadline.
const measureAgentMinutes = 20_000

// Series a minute of one paired agent: the two variants', and what each
// candidate beyond the first adds.
const (
	seriesPerMinutePaired = 45
	seriesPerExtraVariant = 20
)

// measurePage is how many targets' windows measure reads per call when
// each target reports variants variants: the page shrinks with each
// candidate beyond the first, so a read holds as many samples as with one.
func measurePage(from, to time.Time, variants int) int {
	minutes := max(1, int(to.Sub(from)/time.Minute))
	perMinute := seriesPerMinutePaired + seriesPerExtraVariant*max(0, variants-2)
	agentMinutes := measureAgentMinutes * seriesPerMinutePaired / perMinute
	return min(store.MaxBatchKeys, max(1, agentMinutes/minutes))
}

// Create stores a new experiment in pending.
func (c *Controller) Create(ctx context.Context, spec apitypes.ExperimentSpec) (Experiment, error) {
	applyDefaults(&spec)
	if err := Validate(spec); err != nil {
		return Experiment{}, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	pipelines := [][2]string{{"baseline.pipeline", spec.Baseline.Pipeline}, {"candidate.pipeline", spec.Candidate.Pipeline}}
	for i, cand := range spec.Candidates {
		pipelines = append(pipelines, [2]string{fmt.Sprintf("candidates[%d].pipeline", i), cand.Pipeline})
	}
	for _, p := range pipelines {
		if p[1] == "" {
			continue
		}
		if _, err := c.set.Catalog.Get(p[1]); err != nil {
			return Experiment{}, fmt.Errorf("%w: %s: pipeline %q: %w", ErrInvalidSpec, p[0], p[1], err)
		}
	}
	for _, m := range spec.PriceModels {
		if len(c.set.PriceModels) > 0 && !slices.Contains(c.set.PriceModels, m) {
			return Experiment{}, fmt.Errorf("%w: price_models: unknown model %q (known: %s)", ErrInvalidSpec, m, strings.Join(c.set.PriceModels, ", "))
		}
	}
	x := Experiment{Experiment: apitypes.Experiment{ID: newID(), Name: spec.Name, Status: apitypes.ExperimentPending, Spec: spec}}
	if err := c.checkRenders(ctx, x); err != nil {
		return Experiment{}, fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	e, err := x.encode()
	if err != nil {
		return Experiment{}, err
	}
	stored, err := c.set.Store.CreateExperiment(ctx, e)
	if err != nil {
		return Experiment{}, err
	}
	_, _ = c.set.Store.AppendExperimentEvent(ctx, apitypes.ExperimentEvent{ExperimentID: x.ID, Time: c.set.Now(), To: apitypes.ExperimentPending, Cause: "created"})
	return decode(stored)
}

// renderCheckUID stands for an agent when a spec's configurations are
// rendered at create, before any agent is chosen.
const renderCheckUID = "render-check"

// checkRenders renders what the experiment would deploy, for no agent in
// particular, so parameters that cannot render (a candidate k of 0) are
// refused at create, not when the deploy has begun. A baseline that is
// each agent's current configuration is checked at deploy.
func (c *Controller) checkRenders(ctx context.Context, x Experiment) error {
	if x.Spec.Baseline.Current {
		t := apitypes.ExperimentTarget{InstanceUID: renderCheckUID, Variant: apitypes.VariantCandidate}
		shared, err := c.sharedParams(x, t)
		if err != nil {
			return err
		}
		for _, cand := range candidateRefs(x) {
			if _, err := c.single(ctx, x, t.InstanceUID, cand.Ref(), shared, cand.Name); err != nil {
				if len(x.Spec.Candidates) > 0 {
					return fmt.Errorf("rendering candidate %s: %w", cand.Name, err)
				}
				return fmt.Errorf("rendering the candidate: %w", err)
			}
		}
		return nil
	}
	variants := []string{apitypes.VariantBoth}
	if x.Spec.Mode == apitypes.ModeSplit {
		variants = []string{apitypes.VariantBaseline, apitypes.VariantCandidate}
	}
	for _, v := range variants {
		if _, err := c.render(ctx, x, apitypes.ExperimentTarget{InstanceUID: renderCheckUID, Variant: v}); err != nil {
			return fmt.Errorf("rendering the %s configuration: %w", v, err)
		}
	}
	return nil
}

// Get returns an experiment with its events.
func (c *Controller) Get(ctx context.Context, id string) (Experiment, error) {
	e, err := c.set.Store.GetExperiment(ctx, id)
	if err != nil {
		return Experiment{}, err
	}
	x, err := decode(e)
	if err != nil {
		return x, err
	}
	x.Events, err = c.set.Store.ListExperimentEvents(ctx, id)
	return x, err
}

// List returns experiments, optionally by status.
func (c *Controller) List(ctx context.Context, status []apitypes.ExperimentStatus, p store.Page) ([]Experiment, string, error) {
	exps, next, err := c.set.Store.ListExperiments(ctx, store.ExperimentFilter{Status: status}, p)
	if err != nil {
		return nil, "", err
	}
	out := make([]Experiment, 0, len(exps))
	for _, e := range exps {
		x, err := decode(e)
		if err != nil {
			return nil, "", err
		}
		out = append(out, x)
	}
	return out, next, nil
}

// update applies fn to an experiment and saves it as the experiment's one
// owner (Store.LockExperiment): a stop never lands in the middle of another
// replica's deploy, nor a promote in a rollback. It still retries when the
// experiment changed in between: fn may run more than once, so its side
// effects must be idempotent, and events are recorded after update.
func (c *Controller) update(ctx context.Context, id string, fn func(*Experiment) error) (Experiment, error) {
	unlock, err := c.set.Store.LockExperiment(ctx, id)
	if err != nil {
		return Experiment{}, err
	}
	defer unlock()
	for attempt := 0; ; attempt++ {
		e, err := c.set.Store.GetExperiment(ctx, id)
		if err != nil {
			return Experiment{}, err
		}
		x, err := decode(e)
		if err != nil {
			return x, err
		}
		if err := fn(&x); err != nil {
			return x, err
		}
		err = c.save(ctx, &x)
		if errors.Is(err, store.ErrConflict) && attempt < 5 {
			continue
		}
		return x, err
	}
}

// Start asks for a pending experiment to be deployed.
func (c *Controller) Start(ctx context.Context, id string) (Experiment, error) {
	x, err := c.update(ctx, id, func(x *Experiment) error {
		if x.Status != apitypes.ExperimentPending {
			return fmt.Errorf("%w: experiment is %s, only a pending one can start", ErrState, x.Status)
		}
		x.State.StartRequested = true
		return nil
	})
	if err == nil {
		go c.ReconcileAll(context.WithoutCancel(ctx))
	}
	return x, err
}

// Stop cancels an experiment that has not finished; its targets get their
// previous configurations back.
func (c *Controller) Stop(ctx context.Context, id string) (Experiment, error) {
	x, err := c.update(ctx, id, func(x *Experiment) error {
		if x.Status.Terminal() || x.Status == apitypes.ExperimentAnalyzing {
			return fmt.Errorf("%w: experiment is already %s", ErrState, x.Status)
		}
		x.State.StopRequested = true
		return nil
	})
	if err == nil {
		go c.ReconcileAll(context.WithoutCancel(ctx))
	}
	return x, err
}

// Rollback gives every target the assignment it had before the experiment.
func (c *Controller) Rollback(ctx context.Context, id string) (Experiment, error) {
	x, err := c.update(ctx, id, func(x *Experiment) error {
		if !x.Status.Terminal() || len(x.State.Targets) == 0 {
			return fmt.Errorf("%w: only a finished experiment that deployed can be rolled back (it is %s)", ErrState, x.Status)
		}
		x.State.Restored = false
		if err := c.restore(ctx, x, "rolled back after experiment "+x.Name+" ("+x.ID+")"); err != nil {
			return err
		}
		x.State.RolledBack = true
		// A rollout in progress stops here: every target is back.
		if r := x.State.Rollout; r != nil && r.State != apitypes.RolloutRolledBack {
			r.State, r.FinishedAt = apitypes.RolloutRolledBack, c.set.Now()
		}
		return nil
	})
	if err == nil {
		c.event(ctx, x.ID, "rolled back: previous configurations restored")
	}
	return x, err
}

// event records a change that is not a transition, once it is saved: update
// may run its function more than once.
func (c *Controller) event(ctx context.Context, id, cause string) {
	_, _ = c.set.Store.AppendExperimentEvent(ctx, apitypes.ExperimentEvent{ExperimentID: id, Time: c.set.Now(), Cause: cause})
}

// Results returns an experiment's results: the final ones once analysed, or
// an interim analysis of what has been measured so far while it runs.
func (c *Controller) Results(ctx context.Context, id string) (apitypes.ExperimentResults, error) {
	x, err := c.Get(ctx, id)
	if err != nil {
		return apitypes.ExperimentResults{}, err
	}
	if x.State.Results != nil {
		return apitypes.ExperimentResults{Final: true, Results: *x.State.Results}, nil
	}
	now := c.set.Now()
	if x.Status != apitypes.ExperimentRunning || now.Before(x.State.MeasureFrom.Add(time.Minute)) {
		return apitypes.ExperimentResults{}, fmt.Errorf("%w: no results yet (experiment is %s; measurement starts %s)", ErrState, x.Status, x.State.MeasureFrom.Format(time.RFC3339))
	}
	results, err := c.measure(ctx, x, now)
	return apitypes.ExperimentResults{Results: results}, err
}
