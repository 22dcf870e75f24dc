package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

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
	texts := store.StoredTexts(out) // outside the transaction: hashing is most of the work
	// Agents' rows are locked in instance UID order, so batches on
	// overlapping agents wait for each other rather than deadlock; a
	// stable sort keeps an agent set twice in its generations' order.
	order := make([]int, len(out))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return strings.Compare(out[i].InstanceUID, out[j].InstanceUID) })
	uids := make([]string, 0, len(out))
	last := make(map[string]int, len(out)) // the place of each agent's last assignment
	for _, i := range order {
		if _, seen := last[out[i].InstanceUID]; !seen {
			uids = append(uids, out[i].InstanceUID)
		}
		last[out[i].InstanceUID] = i
	}
	err := s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		// First the generations, whose rows serialize writers of one
		// agent, and the texts the agents' rows reference now.
		batch := &pgx.Batch{}
		for _, i := range order {
			a := &out[i]
			batch.Queue(`INSERT INTO assignment_generations (instance_uid, generation) VALUES ($1, 1)
				ON CONFLICT (instance_uid) DO UPDATE SET generation = assignment_generations.generation + 1
				RETURNING generation`, a.InstanceUID).QueryRow(func(row pgx.Row) error { return row.Scan(&a.Generation) })
		}
		d := newTextDeltas()
		batch.Queue(`SELECT text_hash FROM assignments WHERE instance_uid = ANY($1)
			ORDER BY instance_uid FOR UPDATE`, uids).Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var h string
				if err := rows.Scan(&h); err != nil {
					return err
				}
				d.unref(h)
			}
			return rows.Err()
		})
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return nil, err
		}
		for _, i := range last {
			d.ref(texts[i].Hash, texts[i].Text)
		}

		// Then the counts (new texts stored), the rows, and the texts no
		// row references any more.
		batch = &pgx.Batch{}
		dropped := d.queueCounts(batch)
		for _, uid := range uids { // an agent set twice keeps the last
			i := last[uid]
			a := &out[i]
			batch.Queue(`INSERT INTO assignments
					(instance_uid, pipeline, parameters, text_hash, templated, config_hash, reason, assigned_at, generation)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (instance_uid) DO UPDATE SET
					pipeline = EXCLUDED.pipeline, parameters = EXCLUDED.parameters, text_hash = EXCLUDED.text_hash,
					templated = EXCLUDED.templated, config_hash = EXCLUDED.config_hash, reason = EXCLUDED.reason,
					assigned_at = EXCLUDED.assigned_at, generation = EXCLUDED.generation`,
				a.InstanceUID, a.Pipeline, params[i], texts[i].Hash, texts[i].Templated, a.ConfigHash, a.Reason,
				a.AssignedAt, a.Generation)
		}
		queueDrops(batch, dropped)
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
		a         apitypes.Assignment
		params    []byte
		templated bool
	)
	err := s.read(ctx, func() error {
		err := s.pool.QueryRow(ctx, `SELECT a.instance_uid, a.pipeline, a.parameters, t.text, a.templated, a.config_hash,
				a.reason, a.assigned_at, a.generation
			FROM assignments a JOIN config_texts t ON t.hash = a.text_hash WHERE a.instance_uid = $1`, instanceUID).
			Scan(&a.InstanceUID, &a.Pipeline, &params, &a.Config, &templated, &a.ConfigHash, &a.Reason, &a.AssignedAt, &a.Generation)
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
	a.Config = store.ExpandText(a.Config, a.InstanceUID, templated)
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
	config, join, params := "t.text", " JOIN config_texts t ON t.hash = a.text_hash", "a.parameters"
	if d != store.DepthFull {
		config, join = "''", "" // the text stays in the database
	}
	if d == store.DepthBrief {
		params = "NULL"
	}
	err := s.read(ctx, func() error {
		rows, err := s.pool.Query(ctx, `SELECT a.instance_uid, a.pipeline, `+params+`, `+config+`, a.templated,
				a.config_hash, a.reason, a.assigned_at, a.generation
			FROM assignments a`+join+` WHERE a.instance_uid = ANY($1)`, uids)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				a         apitypes.Assignment
				params    []byte
				templated bool
			)
			if err := rows.Scan(&a.InstanceUID, &a.Pipeline, &params, &a.Config, &templated, &a.ConfigHash, &a.Reason,
				&a.AssignedAt, &a.Generation); err != nil {
				return err
			}
			a.Config = store.ExpandText(a.Config, a.InstanceUID, templated)
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
		hashes, err := deleteAssignments(ctx, tx, []string{instanceUID})
		if err != nil || len(hashes) == 0 {
			return nil, err
		}
		return []store.Change{{Kind: store.ChangeAssignment, ID: instanceUID}}, nil
	})
}

// deleteAssignments deletes the named agents' assignments and their
// references to texts, and returns the deleted rows' text hashes.
func deleteAssignments(ctx context.Context, tx pgx.Tx, uids []string) ([]string, error) {
	rows, err := tx.Query(ctx, `DELETE FROM assignments WHERE instance_uid = ANY($1) RETURNING text_hash`, uids)
	if err != nil {
		return nil, fmt.Errorf("delete assignments: %w", err)
	}
	hashes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("delete assignments: %w", err)
	}
	return hashes, unrefDeleted(ctx, tx, hashes)
}
