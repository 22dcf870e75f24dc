package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/phoenix/platform/opamp-server/store"
)

const rolloutColumns = `id, active, doc, version, created_at, updated_at`

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
	err = s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		tag, err := tx.Exec(ctx, `INSERT INTO rollouts (`+rolloutColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
			r.ID, r.Active, []byte(r.Doc), r.Version, r.CreatedAt, r.UpdatedAt)
		if err != nil {
			return nil, err
		}
		if tag.RowsAffected() == 0 {
			return nil, fmt.Errorf("rollout %q exists: %w", r.ID, store.ErrConflict)
		}
		return nil, nil
	})
	if err != nil {
		return store.Rollout{}, err
	}
	return r, nil
}

func scanRollout(row pgx.Row) (store.Rollout, error) {
	var r store.Rollout
	var doc []byte
	if err := row.Scan(&r.ID, &r.Active, &doc, &r.Version, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return store.Rollout{}, err
	}
	// The document is the canonical text the writes stored (migration 7).
	r.Doc = doc
	r.CreatedAt, r.UpdatedAt = store.NormalizeTime(r.CreatedAt), store.NormalizeTime(r.UpdatedAt)
	return r, nil
}

// GetRollout returns one rollout or store.ErrNotFound.
func (s *Store) GetRollout(ctx context.Context, id string) (store.Rollout, error) {
	if err := store.ValidateKey("rollout id", id); err != nil {
		return store.Rollout{}, err
	}
	var r store.Rollout
	err := s.read(ctx, func() error {
		var err error
		r, err = scanRollout(s.pool.QueryRow(ctx, `SELECT `+rolloutColumns+` FROM rollouts WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("rollout %q: %w", id, store.ErrNotFound)
		}
		return err
	})
	return r, err
}

// ListRollouts returns the newest rollouts the filter selects.
func (s *Store) ListRollouts(ctx context.Context, f store.RolloutFilter) ([]store.Rollout, error) {
	limit, err := store.RolloutLimit(f)
	if err != nil {
		return nil, err
	}
	sql := `SELECT ` + rolloutColumns + ` FROM rollouts`
	if f.Active {
		sql += ` WHERE active`
	}
	sql += ` ORDER BY created_at DESC, id DESC LIMIT $1`
	var out []store.Rollout
	err = s.read(ctx, func() error {
		rows, err := s.pool.Query(ctx, sql, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRollout(rows)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateRollout replaces a rollout when r.Version is the stored version.
// CreatedAt is kept; UpdatedAt is set to now.
func (s *Store) UpdateRollout(ctx context.Context, r store.Rollout) (store.Rollout, error) {
	r, err := store.NormalizeRollout(r)
	if err != nil {
		return store.Rollout{}, err
	}
	r.UpdatedAt = store.NormalizeTime(s.now())
	err = s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		err := tx.QueryRow(ctx, `UPDATE rollouts SET active = $2, doc = $3, updated_at = $4, version = version + 1
			WHERE id = $1 AND version = $5 RETURNING version, created_at`,
			r.ID, r.Active, []byte(r.Doc), r.UpdatedAt, r.Version).Scan(&r.Version, &r.CreatedAt)
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		var stored int64
		switch err := tx.QueryRow(ctx, `SELECT version FROM rollouts WHERE id = $1`, r.ID).Scan(&stored); {
		case errors.Is(err, pgx.ErrNoRows):
			return nil, fmt.Errorf("rollout %q: %w", r.ID, store.ErrNotFound)
		case err != nil:
			return nil, err
		}
		return nil, fmt.Errorf("rollout %q is at version %d, not %d: %w", r.ID, stored, r.Version, store.ErrConflict)
	})
	if err != nil {
		return store.Rollout{}, err
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}
