package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

const agentColumns = `instance_uid, description, labels, capabilities, health, effective_config,
	effective_config_hash, remote_config, failed_config_hashes, connection_type, online, server_id,
	sequence_num, first_seen, last_seen, apply_retry`

// listedAgentColumns is agentColumns without the effective configuration's
// text, which lists leave out: it is most of a record's size.
var listedAgentColumns = strings.Replace(agentColumns, "effective_config,", "'' AS effective_config,", 1)

// UpsertAgent creates or replaces an agent and notifies watchers.
func (s *Store) UpsertAgent(ctx context.Context, a apitypes.Agent) error {
	a, err := store.NormalizeAgent(a)
	if err != nil {
		return err
	}
	desc, err := json.Marshal(a.Description)
	if err != nil {
		return err
	}
	labels := []byte("{}")
	if a.Labels != nil {
		if labels, err = json.Marshal(a.Labels); err != nil {
			return err
		}
	}
	var health []byte // NULL when nil
	if a.Health != nil {
		if health, err = json.Marshal(a.Health); err != nil {
			return err
		}
	}
	remote, err := json.Marshal(a.RemoteConfig)
	if err != nil {
		return err
	}
	var retry []byte // NULL when nil
	if a.ApplyRetry != nil {
		if retry, err = json.Marshal(a.ApplyRetry); err != nil {
			return err
		}
	}
	failed := a.FailedConfigHashes
	if failed == nil {
		failed = []string{}
	}
	return s.writeGrouped(ctx, func(ctx context.Context, tx pgx.Tx) ([]store.Change, error) {
		_, err := tx.Exec(ctx, `INSERT INTO agents (`+agentColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
			ON CONFLICT (instance_uid) DO UPDATE SET
				description = EXCLUDED.description, labels = EXCLUDED.labels,
				capabilities = EXCLUDED.capabilities, health = EXCLUDED.health,
				effective_config = CASE
					WHEN EXCLUDED.effective_config = '' AND EXCLUDED.effective_config_hash = agents.effective_config_hash
					THEN agents.effective_config ELSE EXCLUDED.effective_config END,
				effective_config_hash = EXCLUDED.effective_config_hash,
				remote_config = EXCLUDED.remote_config, failed_config_hashes = EXCLUDED.failed_config_hashes,
				connection_type = EXCLUDED.connection_type, online = EXCLUDED.online, server_id = EXCLUDED.server_id,
				sequence_num = EXCLUDED.sequence_num, first_seen = EXCLUDED.first_seen, last_seen = EXCLUDED.last_seen,
				apply_retry = EXCLUDED.apply_retry`,
			// uint64 fields travel as their int64 bit pattern.
			a.InstanceUID, desc, labels, int64(a.Capabilities), health, a.EffectiveConfig,
			a.EffectiveConfigHash, remote, failed, a.ConnectionType, a.Online, a.ServerID,
			int64(a.SequenceNum), a.FirstSeen, a.LastSeen, retry)
		if err != nil {
			return nil, err
		}
		return []store.Change{{Kind: store.ChangeAgent, ID: a.InstanceUID}}, nil
	})
}

// scanAgent reads one row of agentColumns.
func scanAgent(row pgx.Row) (apitypes.Agent, error) {
	var (
		a                                  apitypes.Agent
		desc, labels, health, remot, retry []byte
		caps, seq                          int64
	)
	err := row.Scan(&a.InstanceUID, &desc, &labels, &caps, &health, &a.EffectiveConfig,
		&a.EffectiveConfigHash, &remot, &a.FailedConfigHashes, &a.ConnectionType, &a.Online, &a.ServerID,
		&seq, &a.FirstSeen, &a.LastSeen, &retry)
	if err != nil {
		return apitypes.Agent{}, err
	}
	a.Capabilities, a.SequenceNum = uint64(caps), uint64(seq)
	if err := json.Unmarshal(desc, &a.Description); err != nil {
		return apitypes.Agent{}, fmt.Errorf("agent %q description: %w", a.InstanceUID, err)
	}
	if err := json.Unmarshal(labels, &a.Labels); err != nil {
		return apitypes.Agent{}, fmt.Errorf("agent %q labels: %w", a.InstanceUID, err)
	}
	if health != nil {
		a.Health = new(apitypes.Health)
		if err := json.Unmarshal(health, a.Health); err != nil {
			return apitypes.Agent{}, fmt.Errorf("agent %q health: %w", a.InstanceUID, err)
		}
	}
	if err := json.Unmarshal(remot, &a.RemoteConfig); err != nil {
		return apitypes.Agent{}, fmt.Errorf("agent %q remote_config: %w", a.InstanceUID, err)
	}
	if retry != nil {
		a.ApplyRetry = new(apitypes.ApplyRetry)
		if err := json.Unmarshal(retry, a.ApplyRetry); err != nil {
			return apitypes.Agent{}, fmt.Errorf("agent %q apply_retry: %w", a.InstanceUID, err)
		}
	}
	return store.NormalizeAgent(a)
}

// GetAgent returns one agent or store.ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, instanceUID string) (apitypes.Agent, error) {
	return s.getAgent(ctx, instanceUID, agentColumns)
}

// GetAgentBrief returns one agent without its effective configuration's
// text (PostgreSQL does not read its TOAST value), or store.ErrNotFound.
func (s *Store) GetAgentBrief(ctx context.Context, instanceUID string) (apitypes.Agent, error) {
	return s.getAgent(ctx, instanceUID, listedAgentColumns)
}

func (s *Store) getAgent(ctx context.Context, instanceUID, columns string) (apitypes.Agent, error) {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return apitypes.Agent{}, err
	}
	var a apitypes.Agent
	err := s.read(ctx, func() error {
		var err error
		a, err = scanAgent(s.pool.QueryRow(ctx, `SELECT `+columns+` FROM agents WHERE instance_uid = $1`, instanceUID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("agent %q: %w", instanceUID, store.ErrNotFound)
		}
		return err
	})
	return a, err
}

// ListAgents returns one page of the agents matching f, by instance UID.
func (s *Store) ListAgents(ctx context.Context, f store.AgentFilter, p store.Page) ([]apitypes.Agent, string, error) {
	limit, cur, err := store.PageArgs(p, store.ValidateAgentFilter(f))
	if err != nil {
		return nil, "", err
	}
	q := query{args: []any{cur.ID}}
	q.where("instance_uid > $1")
	if len(f.Labels) > 0 {
		labels, err := json.Marshal(f.Labels)
		if err != nil {
			return nil, "", err
		}
		q.where("labels @> " + q.arg(labels))
	}
	if f.Online != nil {
		q.where("online = " + q.arg(*f.Online))
	}
	sql := `SELECT ` + listedAgentColumns + ` FROM agents` + q.clause() +
		` ORDER BY instance_uid LIMIT ` + q.arg(limit+1)
	agents := make([]apitypes.Agent, 0, min(limit, 64))
	err = s.read(ctx, func() error {
		rows, err := s.pool.Query(ctx, sql, q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAgent(rows)
			if err != nil {
				return err
			}
			agents = append(agents, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(agents) > limit {
		agents = agents[:limit]
		next = store.Cursor{ID: agents[limit-1].InstanceUID}.Encode()
	}
	return agents, next, nil
}

// MarkServerAgentsOffline marks the agents held by serverID offline,
// notifying watchers of each.
func (s *Store) MarkServerAgentsOffline(ctx context.Context, serverID string) error {
	if err := store.ValidateKey("server_id", serverID); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		rows, err := tx.Query(ctx, `UPDATE agents SET online = false WHERE server_id = $1 AND online RETURNING instance_uid`, serverID)
		if err != nil {
			return nil, err
		}
		uids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		changes := make([]store.Change, len(uids))
		for i, uid := range uids {
			changes[i] = store.Change{Kind: store.ChangeAgent, ID: uid}
		}
		return changes, nil
	})
}

// query builds a WHERE clause with numbered arguments.
type query struct {
	conds []string
	args  []any
}

// arg adds an argument and returns its placeholder.
func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

func (q *query) where(cond string) { q.conds = append(q.conds, cond) }

func (q *query) clause() string {
	if len(q.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(q.conds, " AND ")
}

// DeleteAgent removes an agent and its assignment.
func (s *Store) DeleteAgent(ctx context.Context, instanceUID string) error {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		removed, err := deleteAgents(ctx, tx, `DELETE FROM agents WHERE instance_uid = $1 RETURNING instance_uid`, instanceUID)
		if err == nil && len(removed) == 0 {
			err = fmt.Errorf("agent %q: %w", instanceUID, store.ErrNotFound)
		}
		return agentChanges(removed), err
	})
}

// DeleteAgentsOfflineSince removes the agents offline since before t.
func (s *Store) DeleteAgentsOfflineSince(ctx context.Context, t time.Time) ([]string, error) {
	var removed []string
	err := s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		var err error
		removed, err = deleteAgents(ctx, tx, `DELETE FROM agents WHERE NOT online AND last_seen < $1 RETURNING instance_uid`, t.UTC())
		if err != nil {
			return nil, err
		}
		// Credentials enrolled before t that no agent ever used.
		_, err = tx.Exec(ctx, `DELETE FROM agent_credentials c WHERE enrolled_at < $1
			AND NOT EXISTS (SELECT 1 FROM agents a WHERE a.instance_uid = c.instance_uid)`, t.UTC())
		return agentChanges(removed), err
	})
	return removed, err
}

// deleteAgents runs a DELETE … RETURNING instance_uid on agents and removes
// the deleted agents' assignments and credentials.
func deleteAgents(ctx context.Context, tx pgx.Tx, query string, arg any) ([]string, error) {
	rows, err := tx.Query(ctx, query, arg)
	if err != nil {
		return nil, err
	}
	removed, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(removed) == 0 {
		return removed, err
	}
	if _, err = deleteAssignments(ctx, tx, removed); err != nil {
		return nil, err
	}
	_, err = tx.Exec(ctx, `DELETE FROM agent_credentials WHERE instance_uid = ANY($1)`, removed)
	return removed, err
}

func agentChanges(uids []string) []store.Change {
	var changes []store.Change
	for _, uid := range uids {
		changes = append(changes, store.Change{Kind: store.ChangeAgent, ID: uid}, store.Change{Kind: store.ChangeAssignment, ID: uid})
	}
	return changes
}
