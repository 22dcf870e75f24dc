package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/store"
)

// CreateRollout stores a new rollout with Version 1.
func (s *Store) CreateRollout(ctx context.Context, r store.Rollout) (store.Rollout, error) {
	r, err := store.NormalizeRollout(r)
	if err != nil {
		return store.Rollout{}, err
	}
	if r.CreatedAt.IsZero() {
		r.CreatedAt = store.NormalizeTime(s.now())
	}
	r.UpdatedAt, r.Version = r.CreatedAt, 1
	err = s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		b := tx.Bucket(bucketRollouts)
		if b.Get([]byte(r.ID)) != nil {
			return nil, fmt.Errorf("rollout %q exists: %w", r.ID, store.ErrConflict)
		}
		return nil, putRollout(b, r)
	})
	if err != nil {
		return store.Rollout{}, err
	}
	return r, nil
}

// GetRollout returns one rollout or store.ErrNotFound.
func (s *Store) GetRollout(ctx context.Context, id string) (store.Rollout, error) {
	if err := store.ValidateKey("rollout id", id); err != nil {
		return store.Rollout{}, err
	}
	var r store.Rollout
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = getRollout(tx.Bucket(bucketRollouts), id)
		return err
	})
	return r, err
}

// ListRollouts returns the newest rollouts the filter selects. Rollouts are
// few (operators start them), so it reads them all and sorts.
func (s *Store) ListRollouts(ctx context.Context, f store.RolloutFilter) ([]store.Rollout, error) {
	limit, err := store.RolloutLimit(f)
	if err != nil {
		return nil, err
	}
	var out []store.Rollout
	err = s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRollouts).ForEach(func(k, v []byte) error {
			var r store.Rollout
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("rollout %q: %w", k, err)
			}
			if r.Active || !f.Active {
				out = append(out, r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b store.Rollout) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out[:min(len(out), limit)], nil
}

// UpdateRollout replaces a rollout when r.Version is the stored version.
// CreatedAt is kept; UpdatedAt is set to now.
func (s *Store) UpdateRollout(ctx context.Context, r store.Rollout) (store.Rollout, error) {
	r, err := store.NormalizeRollout(r)
	if err != nil {
		return store.Rollout{}, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		b := tx.Bucket(bucketRollouts)
		old, err := getRollout(b, r.ID)
		if err != nil {
			return nil, err
		}
		if old.Version != r.Version {
			return nil, fmt.Errorf("rollout %q is at version %d, not %d: %w", r.ID, old.Version, r.Version, store.ErrConflict)
		}
		r.Version, r.CreatedAt, r.UpdatedAt = old.Version+1, old.CreatedAt, store.NormalizeTime(s.now())
		return nil, putRollout(b, r)
	})
	if err != nil {
		return store.Rollout{}, err
	}
	return r, nil
}

func putRollout(b *bolt.Bucket, r store.Rollout) error {
	v, err := marshal(r)
	if err != nil {
		return err
	}
	return b.Put([]byte(r.ID), v)
}

func getRollout(b *bolt.Bucket, id string) (store.Rollout, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return store.Rollout{}, fmt.Errorf("rollout %q: %w", id, store.ErrNotFound)
	}
	var r store.Rollout
	if err := json.Unmarshal(v, &r); err != nil {
		return store.Rollout{}, fmt.Errorf("rollout %q: %w", id, err)
	}
	return r, nil
}
