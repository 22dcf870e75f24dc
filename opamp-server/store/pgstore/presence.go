package pgstore

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoenix/platform/opamp-server/store"
)

// RenewPresence extends serverID's lease to until.
func (s *Store) RenewPresence(ctx context.Context, serverID string, until time.Time) error {
	if err := store.ValidateLease(serverID, until); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		_, err := tx.Exec(ctx, `INSERT INTO server_presence (server_id, until) VALUES ($1, $2)
			ON CONFLICT (server_id) DO UPDATE SET until = EXCLUDED.until`, serverID, until.UTC())
		return nil, err
	})
}

// DropPresence removes serverID's lease.
func (s *Store) DropPresence(ctx context.Context, serverID string) error {
	if err := store.ValidateKey("server_id", serverID); err != nil {
		return err
	}
	return s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		_, err := tx.Exec(ctx, `DELETE FROM server_presence WHERE server_id = $1`, serverID)
		return nil, err
	})
}

// ExpirePresence removes the leases that ended before now and marks their
// servers' agents offline, in one transaction. Replicas expiring at once
// do not both act on a lease: the second's DELETE waits for the first's
// row lock and then finds the row gone. A lease renewed meanwhile is
// re-checked and kept; an agent that reconnected elsewhere meanwhile no
// longer matches its old server.
func (s *Store) ExpirePresence(ctx context.Context, now time.Time) ([]store.ExpiredPresence, error) {
	var expired []store.ExpiredPresence
	err := s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
		expired = nil
		rows, err := tx.Query(ctx, `DELETE FROM server_presence WHERE until < $1 RETURNING server_id, until`, now.UTC())
		if err != nil {
			return nil, err
		}
		leases, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ExpiredPresence, error) {
			var e store.ExpiredPresence
			err := r.Scan(&e.ServerID, &e.Until)
			e.Until = e.Until.UTC()
			return e, err
		})
		if err != nil || len(leases) == 0 {
			return nil, err
		}
		servers := make([]string, len(leases))
		byServer := make(map[string]int, len(leases))
		for i, e := range leases {
			servers[i], byServer[e.ServerID] = e.ServerID, i
		}
		rows, err = tx.Query(ctx, `WITH marked AS (
				UPDATE agents SET online = false WHERE online AND server_id = ANY($1) RETURNING instance_uid, server_id
			) SELECT instance_uid, server_id FROM marked ORDER BY instance_uid`, servers)
		if err != nil {
			return nil, err
		}
		var changes []store.Change
		var uid, server string
		_, err = pgx.ForEachRow(rows, []any{&uid, &server}, func() error {
			e := &leases[byServer[server]]
			e.Agents = append(e.Agents, uid)
			changes = append(changes, store.Change{Kind: store.ChangeAgent, ID: uid})
			return nil
		})
		if err != nil {
			return nil, err
		}
		slices.SortFunc(leases, func(a, b store.ExpiredPresence) int { return strings.Compare(a.ServerID, b.ServerID) })
		expired = leases
		return changes, nil
	})
	if err != nil {
		return nil, err
	}
	return expired, nil
}
