package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// CreateExperiment stores a new experiment with Version 1.
func (s *Store) CreateExperiment(ctx context.Context, e store.Experiment) (store.Experiment, error) {
	e, err := store.NormalizeExperiment(e)
	if err != nil {
		return store.Experiment{}, err
	}
	now := store.NormalizeTime(s.now())
	if e.CreatedAt.IsZero() {
		e.CreatedAt = now
	}
	if e.UpdatedAt.IsZero() {
		e.UpdatedAt = e.CreatedAt
	}
	e.Version = 1
	err = s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		b := tx.Bucket(bucketExperiments)
		if b.Get([]byte(e.ID)) != nil {
			return nil, fmt.Errorf("experiment %q exists: %w", e.ID, store.ErrConflict)
		}
		if err := putExperiment(b, e); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bucketExperimentsByCreated).Put(createdKey(e.CreatedAt, e.ID), nil); err != nil {
			return nil, err
		}
		return []store.Change{{Kind: store.ChangeExperiment, ID: e.ID}}, nil
	})
	if err != nil {
		return store.Experiment{}, err
	}
	return e, nil
}

// GetExperiment returns one experiment or store.ErrNotFound.
func (s *Store) GetExperiment(ctx context.Context, id string) (store.Experiment, error) {
	if err := store.ValidateKey("experiment id", id); err != nil {
		return store.Experiment{}, err
	}
	var e store.Experiment
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		e, err = getExperiment(tx.Bucket(bucketExperiments), id)
		return err
	})
	return e, err
}

// ListExperiments returns one page of experiments by CreatedAt, then ID.
func (s *Store) ListExperiments(ctx context.Context, f store.ExperimentFilter, p store.Page) ([]store.Experiment, string, error) {
	limit, cur, err := store.PageArgs(p, store.ValidateExperimentFilter(f))
	if err != nil {
		return nil, "", err
	}
	exps := make([]store.Experiment, 0, min(limit, 64))
	more := false
	err = s.view(ctx, func(tx *bolt.Tx) error {
		records := tx.Bucket(bucketExperiments)
		c := tx.Bucket(bucketExperimentsByCreated).Cursor()
		var k []byte
		if p.After == "" {
			k, _ = c.First()
		} else {
			after := createdKey(cur.Time, cur.ID)
			if k, _ = c.Seek(after); bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			if len(k) < 8 {
				return fmt.Errorf("corrupt experiment index key %q", k)
			}
			e, err := getExperiment(records, string(k[8:]))
			if err != nil {
				return err
			}
			if len(f.Status) > 0 && !slices.Contains(f.Status, e.Status) {
				continue
			}
			if len(exps) == limit {
				more = true
				return nil
			}
			exps = append(exps, e)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if more {
		last := exps[len(exps)-1]
		next = store.Cursor{Time: last.CreatedAt, ID: last.ID}.Encode()
	}
	return exps, next, nil
}

// UpdateExperiment replaces an experiment when e.Version is the stored
// version. CreatedAt is kept; UpdatedAt is set to now.
func (s *Store) UpdateExperiment(ctx context.Context, e store.Experiment) (store.Experiment, error) {
	e, err := store.NormalizeExperiment(e)
	if err != nil {
		return store.Experiment{}, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		b := tx.Bucket(bucketExperiments)
		old, err := getExperiment(b, e.ID)
		if err != nil {
			return nil, err
		}
		if old.Version != e.Version {
			return nil, fmt.Errorf("experiment %q is at version %d, not %d: %w", e.ID, old.Version, e.Version, store.ErrConflict)
		}
		e.Version = old.Version + 1
		e.CreatedAt = old.CreatedAt
		e.UpdatedAt = store.NormalizeTime(s.now())
		if err := putExperiment(b, e); err != nil {
			return nil, err
		}
		return []store.Change{{Kind: store.ChangeExperiment, ID: e.ID}}, nil
	})
	if err != nil {
		return store.Experiment{}, err
	}
	return e, nil
}

// AppendExperimentEvent adds an event with the experiment's next Seq.
func (s *Store) AppendExperimentEvent(ctx context.Context, ev apitypes.ExperimentEvent) (apitypes.ExperimentEvent, error) {
	ev, err := store.NormalizeExperimentEvent(ev, s.now())
	if err != nil {
		return apitypes.ExperimentEvent{}, err
	}
	err = s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		if tx.Bucket(bucketExperiments).Get([]byte(ev.ExperimentID)) == nil {
			return nil, fmt.Errorf("experiment %q: %w", ev.ExperimentID, store.ErrNotFound)
		}
		b, err := tx.Bucket(bucketEvents).CreateBucketIfNotExists([]byte(ev.ExperimentID))
		if err != nil {
			return nil, err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return nil, err
		}
		ev.Seq = int64(seq)
		v, err := marshal(ev)
		if err != nil {
			return nil, err
		}
		return nil, b.Put(encodeUint(seq), v)
	})
	if err != nil {
		return apitypes.ExperimentEvent{}, err
	}
	return ev, nil
}

// ListExperimentEvents returns an experiment's events in Seq order, or
// store.ErrNotFound for an unknown experiment.
func (s *Store) ListExperimentEvents(ctx context.Context, experimentID string) ([]apitypes.ExperimentEvent, error) {
	if err := store.ValidateKey("experiment id", experimentID); err != nil {
		return nil, err
	}
	events := []apitypes.ExperimentEvent{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketExperiments).Get([]byte(experimentID)) == nil {
			return fmt.Errorf("experiment %q: %w", experimentID, store.ErrNotFound)
		}
		b := tx.Bucket(bucketEvents).Bucket([]byte(experimentID))
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var ev apitypes.ExperimentEvent
			if err := json.Unmarshal(v, &ev); err != nil {
				return err
			}
			events = append(events, ev)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}

func putExperiment(b *bolt.Bucket, e store.Experiment) error {
	v, err := marshal(e)
	if err != nil {
		return err
	}
	return b.Put([]byte(e.ID), v)
}

func getExperiment(b *bolt.Bucket, id string) (store.Experiment, error) {
	v := b.Get([]byte(id))
	if v == nil {
		return store.Experiment{}, fmt.Errorf("experiment %q: %w", id, store.ErrNotFound)
	}
	var e store.Experiment
	if err := json.Unmarshal(v, &e); err != nil {
		return store.Experiment{}, fmt.Errorf("experiment %q: %w", id, err)
	}
	return e, nil
}

// LockExperiment serialises an experiment's transitions: the embedded store
// has one process, so an in-process lock is every replica's.
func (s *Store) LockExperiment(ctx context.Context, id string) (func(), error) {
	if err := store.ValidateKey("id", id); err != nil {
		return nil, err
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return s.locks.Lock(ctx, id)
}
