package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// rolloutScanEvery bounds how often completed experiments are listed to
// find the rollouts other replicas started, or a restart left: a completed
// experiment's state holds its results and can be large, so they are not
// read on every round.
const rolloutScanEvery = 15 * time.Second

// rolloutIndex remembers the experiments with a rollout in progress.
type rolloutIndex struct {
	ids       map[string]bool
	scannedAt time.Time
}

// noteRollout adds a rollout this replica started, so it is stepped from
// the next round without waiting for a scan.
func (c *Controller) noteRollout(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rollouts.ids == nil {
		c.rollouts.ids = map[string]bool{}
	}
	c.rollouts.ids[id] = true
}

// reconcileRollouts steps every known rollout in progress once, after
// finding new ones when a scan is due. c.mu is held.
func (c *Controller) reconcileRollouts(ctx context.Context) {
	if c.rollouts.ids == nil {
		c.rollouts.ids = map[string]bool{}
	}
	if now := time.Now(); now.Sub(c.rollouts.scannedAt) >= rolloutScanEvery {
		if err := c.scanRollouts(ctx); err != nil {
			if ctx.Err() == nil {
				c.log.Warn("listing completed experiments for rollouts failed", "error", err)
			}
		} else {
			c.rollouts.scannedAt = now
		}
	}
	ids := make([]string, 0, len(c.rollouts.ids))
	for id := range c.rollouts.ids {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := c.stepOwned(ctx, id); err != nil && !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
			c.log.Warn("rollout step failed", "id", id, "error", err)
		}
		e, err := c.set.Store.GetExperiment(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && !rolloutActive(e) {
			delete(c.rollouts.ids, id)
		}
	}
}

func (c *Controller) scanRollouts(ctx context.Context) error {
	page := store.Page{Limit: 1000}
	for {
		exps, next, err := c.set.Store.ListExperiments(ctx, store.ExperimentFilter{Status: []apitypes.ExperimentStatus{apitypes.ExperimentCompleted}}, page)
		if err != nil {
			return err
		}
		for _, e := range exps {
			if rolloutActive(e) {
				c.rollouts.ids[e.ID] = true
			}
		}
		if next == "" {
			return nil
		}
		page.After = next
	}
}

// rolloutActive tells from the stored state, without decoding the results,
// whether an experiment has a rollout the controller still moves.
func rolloutActive(e store.Experiment) bool {
	if e.Status != apitypes.ExperimentCompleted || !bytes.Contains(e.State, []byte(`"rollout"`)) {
		return false
	}
	var s struct {
		Rollout *struct {
			State apitypes.RolloutState `json:"state"`
		} `json:"rollout"`
	}
	return json.Unmarshal(e.State, &s) == nil && s.Rollout != nil && s.Rollout.State.Active()
}
