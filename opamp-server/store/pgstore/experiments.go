package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

const experimentColumns = `id, name, status, spec, state, version, created_at, updated_at`

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
	err = s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		tag, err := tx.Exec(ctx, `INSERT INTO experiments (`+experimentColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
			e.ID, e.Name, e.Status, []byte(e.Spec), nullableJSON(e.State), e.Version, e.CreatedAt, e.UpdatedAt)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
			return nil, fmt.Errorf("experiment %q exists: %w", e.ID, store.ErrConflict)
		}
		return []store.Change{{Kind: store.ChangeExperiment, ID: e.ID}}, nil
	})
	if err != nil {
		return store.Experiment{}, err
	}
	return e, nil
}

// nullableJSON passes an absent document as SQL NULL.
func nullableJSON(doc []byte) []byte {
	if len(doc) == 0 {
		return nil
	}
	return doc
}

func scanExperiment(row pgx.Row) (store.Experiment, error) {
	var e store.Experiment
	var spec, state []byte
	if err := row.Scan(&e.ID, &e.Name, &e.Status, &spec, &state, &e.Version, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return store.Experiment{}, err
	}
	// The documents are the canonical text the writes stored (migration 7):
	// re-encoding tens of MiB of state on every read was a fleet
	// experiment's largest cost.
	e.Spec, e.State = spec, state
	e.CreatedAt, e.UpdatedAt = store.NormalizeTime(e.CreatedAt), store.NormalizeTime(e.UpdatedAt)
	return e, nil
}

// GetExperiment returns one experiment or store.ErrNotFound.
func (s *Store) GetExperiment(ctx context.Context, id string) (store.Experiment, error) {
	if err := store.ValidateKey("experiment id", id); err != nil {
		return store.Experiment{}, err
	}
	var e store.Experiment
	err := s.read(ctx, func() error {
		var err error
		e, err = scanExperiment(s.pool.QueryRow(ctx, `SELECT `+experimentColumns+` FROM experiments WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("experiment %q: %w", id, store.ErrNotFound)
		}
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
	var q query
	if p.After != "" {
		q.where("(created_at, id) > (" + q.arg(cur.Time) + ", " + q.arg(cur.ID) + ")")
	}
	if len(f.Status) > 0 {
		q.where("status = ANY(" + q.arg(f.Status) + ")")
	}
	sql := `SELECT ` + experimentColumns + ` FROM experiments` + q.clause() +
		` ORDER BY created_at, id LIMIT ` + q.arg(limit+1)
	exps := make([]store.Experiment, 0, min(limit, 64))
	err = s.read(ctx, func() error {
		rows, err := s.pool.Query(ctx, sql, q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanExperiment(rows)
			if err != nil {
				return err
			}
			exps = append(exps, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(exps) > limit {
		exps = exps[:limit]
		last := exps[limit-1]
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
	e.UpdatedAt = store.NormalizeTime(s.now())
	err = s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		err := tx.QueryRow(ctx, `UPDATE experiments
			SET name = $2, status = $3, spec = $4, state = $5, updated_at = $6, version = version + 1
			WHERE id = $1 AND version = $7
			RETURNING version, created_at`,
			e.ID, e.Name, e.Status, []byte(e.Spec), nullableJSON(e.State), e.UpdatedAt, e.Version).
			Scan(&e.Version, &e.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, s.versionConflict(ctx, tx, e)
		}
		if err != nil {
			return nil, err
		}
		return []store.Change{{Kind: store.ChangeExperiment, ID: e.ID}}, nil
	})
	if err != nil {
		return store.Experiment{}, err
	}
	e.CreatedAt = e.CreatedAt.UTC()
	return e, nil
}

// versionConflict explains why a compare-and-swap matched no row.
func (s *Store) versionConflict(ctx context.Context, tx pgx.Tx, e store.Experiment) error {
	var stored int64
	err := tx.QueryRow(ctx, `SELECT version FROM experiments WHERE id = $1`, e.ID).Scan(&stored)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("experiment %q: %w", e.ID, store.ErrNotFound)
	case err != nil:
		return err
	}
	return fmt.Errorf("experiment %q is at version %d, not %d: %w", e.ID, stored, e.Version, store.ErrConflict)
}

// AppendExperimentEvent adds an event with the experiment's next Seq.
func (s *Store) AppendExperimentEvent(ctx context.Context, ev apitypes.ExperimentEvent) (apitypes.ExperimentEvent, error) {
	ev, err := store.NormalizeExperimentEvent(ev, s.now())
	if err != nil {
		return apitypes.ExperimentEvent{}, err
	}
	err = s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		err := tx.QueryRow(ctx, `UPDATE experiments SET last_event_seq = last_event_seq + 1
			WHERE id = $1 RETURNING last_event_seq`, ev.ExperimentID).Scan(&ev.Seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("experiment %q: %w", ev.ExperimentID, store.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		_, err = tx.Exec(ctx, `INSERT INTO experiment_events (experiment_id, seq, time, from_status, to_status, cause)
			VALUES ($1, $2, $3, $4, $5, $6)`, ev.ExperimentID, ev.Seq, ev.Time, ev.From, ev.To, ev.Cause)
		return nil, err
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
	var events []apitypes.ExperimentEvent
	err := s.read(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT experiment_id, seq, time, from_status, to_status, cause
			FROM experiment_events WHERE experiment_id = $1 ORDER BY seq`, experimentID)
		if err != nil {
			return err
		}
		events, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (apitypes.ExperimentEvent, error) {
			var ev apitypes.ExperimentEvent
			err := row.Scan(&ev.ExperimentID, &ev.Seq, &ev.Time, &ev.From, &ev.To, &ev.Cause)
			ev.Time = ev.Time.UTC()
			return ev, err
		})
		if err != nil || len(events) > 0 {
			return err // events imply their experiment (foreign key)
		}
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM experiments WHERE id = $1)`, experimentID).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return fmt.Errorf("experiment %q: %w", experimentID, store.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return events, nil
}
