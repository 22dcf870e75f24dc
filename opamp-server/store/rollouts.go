package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Rollout is a progressive assignment: a configuration going out to a
// fleet in gated waves. Like an experiment's state, Doc is an opaque JSON
// document owned by its controller (assignment.Rollouts); Active is kept
// beside it so the replicas find the rollouts still moving without
// decoding every document.
type Rollout struct {
	ID     string          `json:"id"`
	Active bool            `json:"active"`
	Doc    json.RawMessage `json:"doc"`
	// Version is the optimistic-concurrency version: UpdateRollout must be
	// given the version it read and stores version+1.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// RolloutFilter selects rollouts: the active ones only when Active is set.
// Limit bounds the result (0: DefaultPageLimit; at most MaxPageLimit).
type RolloutFilter struct {
	Active bool
	Limit  int
}

// RolloutStore keeps progressive assignments. Rollouts are few (each is
// an operator's command), so listing is one bounded page, newest first.
type RolloutStore interface {
	// CreateRollout stores a new rollout with Version 1; ErrConflict if
	// the ID exists.
	CreateRollout(ctx context.Context, r Rollout) (Rollout, error)
	// GetRollout returns one rollout or ErrNotFound.
	GetRollout(ctx context.Context, id string) (Rollout, error)
	// ListRollouts returns the newest rollouts the filter selects, by
	// CreatedAt then ID, descending.
	ListRollouts(ctx context.Context, f RolloutFilter) ([]Rollout, error)
	// UpdateRollout replaces a rollout if r.Version is the stored version,
	// storing Version+1 (ErrConflict otherwise, ErrNotFound without one).
	UpdateRollout(ctx context.Context, r Rollout) (Rollout, error)
}

// NormalizeRollout validates r (an ID, a JSON document) and returns its
// stored form.
func NormalizeRollout(r Rollout) (Rollout, error) {
	c := checker{record: "rollout"}
	c.key("id", r.ID)
	c.time("created_at", r.CreatedAt)
	c.time("updated_at", r.UpdatedAt)
	if c.err != nil {
		return Rollout{}, c.err
	}
	doc, err := CanonicalJSON("rollout doc", r.Doc)
	if err != nil {
		return Rollout{}, err
	}
	if doc == nil {
		return Rollout{}, fmt.Errorf("%w: rollout doc: must be a JSON document", ErrInvalid)
	}
	r.Doc = doc
	r.CreatedAt, r.UpdatedAt = NormalizeTime(r.CreatedAt), NormalizeTime(r.UpdatedAt)
	return r, nil
}

// RolloutLimit is the number of rollouts f asks for (PageLimit's rules).
func RolloutLimit(f RolloutFilter) (int, error) { return PageLimit(Page{Limit: f.Limit}) }
