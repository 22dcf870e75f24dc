package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// SetAssignment stores an agent's assignment with the next generation. The
// generation row's lock serializes concurrent sets for one agent.
func (s *Store) SetAssignment(ctx context.Context, a apitypes.Assignment) (apitypes.Assignment, error) {
	out, err := s.SetAssignments(ctx, []apitypes.Assignment{a})
	if err != nil {
		return apitypes.Assignment{}, err
	}
	return out[0], nil
}

// SetAssignments stores assignments in one transaction, all or none, sent
// as one batch of statements.
func (s *Store) SetAssignments(ctx context.Context, asgs []apitypes.Assignment) ([]apitypes.Assignment, error) {
	out := make([]apitypes.Assignment, len(asgs))
	params := make([][]byte, len(asgs)) // NULL when there are none
	now := s.now()
	for i, a := range asgs {
		var err error
		if out[i], err = store.NormalizeAssignment(a, now); err != nil {
			return nil, store.BatchError(i, len(asgs), err)
		}
		if out[i].Parameters != nil {
			if params[i], err = json.Marshal(out[i].Parameters); err != nil {
				return nil, err
			}
		}
	}
	err := s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		batch := &pgx.Batch{}
		for i := range out {
			a := &out[i]
			batch.Queue(`INSERT INTO assignment_generations (instance_uid, generation) VALUES ($1, 1)
				ON CONFLICT (instance_uid) DO UPDATE SET generation = assignment_generations.generation + 1
				RETURNING generation`, a.InstanceUID).QueryRow(func(row pgx.Row) error { return row.Scan(&a.Generation) })
			batch.Queue(`INSERT INTO assignments
					(instance_uid, pipeline, parameters, config, config_hash, reason, assigned_at, generation)
				VALUES ($1, $2, $3, $4, $5, $6, $7,
					(SELECT generation FROM assignment_generations WHERE instance_uid = $1))
				ON CONFLICT (instance_uid) DO UPDATE SET
					pipeline = EXCLUDED.pipeline, parameters = EXCLUDED.parameters, config = EXCLUDED.config,
					config_hash = EXCLUDED.config_hash, reason = EXCLUDED.reason,
					assigned_at = EXCLUDED.assigned_at, generation = EXCLUDED.generation`,
				a.InstanceUID, a.Pipeline, params[i], a.Config, a.ConfigHash, a.Reason, a.AssignedAt)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return nil, err
		}
		changes := make([]store.Change, len(out))
		for i, a := range out {
			changes[i] = store.Change{Kind: store.ChangeAssignment, ID: a.InstanceUID}
		}
		return changes, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetAssignment returns an agent's assignment or store.ErrNotFound.
func (s *Store) GetAssignment(ctx context.Context, instanceUID string) (apitypes.Assignment, error) {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return apitypes.Assignment{}, err
	}
	var (
		a      apitypes.Assignment
		params []byte
	)
	err := s.read(ctx, func() error {
		err := s.pool.QueryRow(ctx, `SELECT instance_uid, pipeline, parameters, config, config_hash, reason,
				assigned_at, generation
			FROM assignments WHERE instance_uid = $1`, instanceUID).
			Scan(&a.InstanceUID, &a.Pipeline, &params, &a.Config, &a.ConfigHash, &a.Reason, &a.AssignedAt, &a.Generation)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("assignment of agent %q: %w", instanceUID, store.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return apitypes.Assignment{}, err
	}
	if a.Parameters, err = store.DecodeParameters(params); err != nil {
		return apitypes.Assignment{}, err
	}
	a.AssignedAt = store.NormalizeTime(a.AssignedAt)
	return a, nil
}

// GetAssignments returns the named agents' assignments, in one query.
func (s *Store) GetAssignments(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error) {
	return s.getAssignments(ctx, instanceUIDs, store.DepthFull)
}

// GetAssignmentHeads returns the named agents' assignments without their
// text, which the query does not select.
func (s *Store) GetAssignmentHeads(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error) {
	return s.getAssignments(ctx, instanceUIDs, store.DepthHead)
}

// GetAssignmentBriefs returns the named agents' assignments without their
// text or parameters, neither of which the query selects.
func (s *Store) GetAssignmentBriefs(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error) {
	return s.getAssignments(ctx, instanceUIDs, store.DepthBrief)
}

func (s *Store) getAssignments(ctx context.Context, uids []string, d store.AssignmentDepth) (map[string]apitypes.Assignment, error) {
	if err := store.ValidateKeys("instance_uid", uids); err != nil {
		return nil, err
	}
	out := make(map[string]apitypes.Assignment, len(uids))
	if len(uids) == 0 {
		return out, nil
	}
	config, params := "config", "parameters"
	if d != store.DepthFull {
		config = "''" // the text stays in the database
	}
	if d == store.DepthBrief {
		params = "NULL"
	}
	err := s.read(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT instance_uid, pipeline, `+params+`, `+config+`, config_hash, reason,
				assigned_at, generation
			FROM assignments WHERE instance_uid = ANY($1)`, uids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a      apitypes.Assignment
				params []byte
			)
			if err := rows.Scan(&a.InstanceUID, &a.Pipeline, &params, &a.Config, &a.ConfigHash, &a.Reason,
				&a.AssignedAt, &a.Generation); err != nil {
				return err
			}
			if a.Parameters, err = store.DecodeParameters(params); err != nil {
				return err
			}
			a.AssignedAt = store.NormalizeTime(a.AssignedAt)
			out[a.InstanceUID] = a
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteAssignment removes an agent's assignment; watchers hear of it when
// there was one.
func (s *Store) DeleteAssignment(ctx context.Context, instanceUID string) error {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM assignments WHERE instance_uid = $1`, instanceUID)
		if err != nil || tag.RowsAffected() == 0 {
			return nil, err
		}
		return []store.Change{{Kind: store.ChangeAssignment, ID: instanceUID}}, nil
	})
}
