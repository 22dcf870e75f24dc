package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
)

// Analyzer turns an experiment's measurements into results: the JSON
// document stored and served, and whether the candidate passed.
type Analyzer func(ctx context.Context, x Experiment, samples map[string][]apitypes.Sample) (apitypes.Results, error)

// Settings wire the controller.
type Settings struct {
	Store store.Store
	// Catalog tells parameters' scopes; Assignments renders, validates and
	// assigns every configuration.
	Catalog     *catalog.Catalog
	Assignments *assignment.Service
	// Analyze computes results. Required.
	Analyze Analyzer
	// PriceModels are the price models specs may name; empty accepts any.
	PriceModels []string
	Logger      *slog.Logger
	// Tick is how often experiments are reconciled. Default 1s.
	Tick time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Controller runs experiments. Several replicas may run one each: every
// transition is a compare-and-swap on the experiment's version, and every
// side effect (assigning a configuration) is idempotent.
type Controller struct {
	set Settings
	log *slog.Logger
	mu  sync.Mutex // serialises this replica's steps
	// rollouts are the promotions in progress this replica knows of;
	// guarded by mu.
	rollouts rolloutIndex
}

// New creates a controller.
func New(set Settings) (*Controller, error) {
	if set.Store == nil || set.Catalog == nil || set.Assignments == nil || set.Analyze == nil {
		return nil, errors.New("experiments: Store, Catalog, Assignments and Analyze are required")
	}
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.Tick <= 0 {
		set.Tick = time.Second
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	return &Controller{set: set, log: set.Logger.With("component", "experiments")}, nil
}

// Run reconciles experiments until ctx ends: on every tick, and at once when
// an experiment changes anywhere.
func (c *Controller) Run(ctx context.Context) {
	changes, err := c.set.Store.Watch(ctx)
	if err != nil {
		c.log.Warn("watching experiment changes failed; reconciling on the tick only", "error", err)
	}
	tick := time.NewTicker(c.set.Tick)
	defer tick.Stop()
	for {
		c.ReconcileAll(ctx)
		if !nextRound(ctx, tick.C, &changes) {
			return
		}
	}
}

// nextRound waits for a reason to reconcile again: the tick, a change to an
// experiment, or a gap in the changes seen. Other changes are skipped, not
// reconciled on: agents change with every message they send. It reports
// false once ctx ends.
func nextRound(ctx context.Context, tick <-chan time.Time, changes *<-chan store.Change) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-tick:
			return true
		case ch, ok := <-*changes:
			switch {
			case !ok:
				*changes = nil // the tick carries on alone
				return true
			case ch.Kind == store.ChangeExperiment || ch.Kind == store.ChangeResync:
				return true
			}
		}
	}
}

// active are the statuses the controller moves forward.
var active = []apitypes.ExperimentStatus{apitypes.ExperimentPending, apitypes.ExperimentDeploying, apitypes.ExperimentRunning, apitypes.ExperimentAnalyzing}

// ReconcileAll steps every active experiment once.
func (c *Controller) ReconcileAll(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	page := store.Page{Limit: 1000}
	for {
		exps, next, err := c.set.Store.ListExperiments(ctx, store.ExperimentFilter{Status: active}, page)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("listing experiments failed", "error", err)
			}
			return
		}
		for _, e := range exps {
			if err := c.stepOwned(ctx, e.ID); err != nil && !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
				c.log.Warn("experiment step failed", "id", e.ID, "status", e.Status, "error", err)
			}
		}
		if next == "" {
			break
		}
		page.After = next
	}
	c.reconcileRollouts(ctx)
}

// stepOwned steps an experiment as its one owner across replicas
// (Store.LockExperiment), on what it is once owned: another replica may
// have moved it since it was listed.
func (c *Controller) stepOwned(ctx context.Context, id string) error {
	unlock, err := c.set.Store.LockExperiment(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	e, err := c.set.Store.GetExperiment(ctx, id)
	if err != nil {
		return err
	}
	x, err := decode(e)
	if err != nil {
		c.log.Error("unreadable experiment", "id", id, "error", err)
		return nil
	}
	if x.Status == apitypes.ExperimentCompleted && x.State.Rollout != nil && x.State.Rollout.State.Active() {
		return c.stepRollout(ctx, x)
	}
	if !slices.Contains(active, x.Status) {
		return nil
	}
	return c.step(ctx, x)
}

// step moves one experiment forward by at most one transition.
func (c *Controller) step(ctx context.Context, x Experiment) error {
	now := c.set.Now()
	switch x.Status {
	case apitypes.ExperimentPending:
		switch {
		case x.State.StopRequested:
			return c.transition(ctx, x, apitypes.ExperimentCancelled, "stopped before it started")
		case x.State.StartRequested:
			return c.deploy(ctx, x)
		}
	case apitypes.ExperimentDeploying:
		if x.State.StopRequested {
			return c.finish(ctx, x, apitypes.ExperimentCancelled, "stopped while deploying")
		}
		return c.checkDeployment(ctx, x, now)
	case apitypes.ExperimentRunning:
		switch {
		case x.State.StopRequested:
			return c.finish(ctx, x, apitypes.ExperimentCancelled, "stopped while running")
		case !now.Before(x.State.EndsAt):
			return c.transition(ctx, x, apitypes.ExperimentAnalyzing, "measurement window complete")
		}
	case apitypes.ExperimentAnalyzing:
		return c.analyze(ctx, x)
	}
	return nil
}

// transition saves a status change with its event.
func (c *Controller) transition(ctx context.Context, x Experiment, to apitypes.ExperimentStatus, cause string) error {
	from := x.Status
	x.Status = to
	if to.Terminal() && x.State.FinishedAt.IsZero() {
		x.State.FinishedAt = c.set.Now()
	}
	if err := c.save(ctx, &x); err != nil {
		return err
	}
	c.log.Info("experiment transition", "id", x.ID, "name", x.Name, "from", from, "to", to, "cause", cause)
	_, err := c.set.Store.AppendExperimentEvent(ctx, apitypes.ExperimentEvent{ExperimentID: x.ID, Time: c.set.Now(), From: from, To: to, Cause: cause})
	return err
}

// save stores x if nobody changed it since it was read.
func (c *Controller) save(ctx context.Context, x *Experiment) error {
	e, err := x.encode()
	if err != nil {
		return err
	}
	stored, err := c.set.Store.UpdateExperiment(ctx, e)
	if err != nil {
		return err
	}
	x.version, x.UpdatedAt = stored.Version, stored.UpdatedAt
	return nil
}

// finish ends an experiment that may have deployed: targets get their
// previous configurations back first, so a failure never leaves them on an
// experiment's configuration.
func (c *Controller) finish(ctx context.Context, x Experiment, status apitypes.ExperimentStatus, cause string) error {
	if !x.State.Restored && len(x.State.Targets) > 0 {
		// Claim the step before touching any agent: a replica acting on a
		// stale read (another one finished the experiment, which may have
		// been promoted since) stops here instead of overwriting assignments.
		if err := c.save(ctx, &x); err != nil {
			return err
		}
	}
	if err := c.restore(ctx, &x, "restored after experiment "+x.Name+" ("+string(status)+")"); err != nil {
		x.State.Error = joinErr(x.State.Error, "restoring configurations: "+err.Error())
	}
	if status == apitypes.ExperimentFailed && x.State.Error == "" {
		x.State.Error = cause
	}
	return c.transition(ctx, x, status, cause)
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "exp-" + hex.EncodeToString(b)
}
