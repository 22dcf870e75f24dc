package boltstore

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// bucketPresence: server ID → lease end (appendTime). Created by the first
// renewal, so files written before leases existed need no migration.
var bucketPresence = []byte("server_presence")

// RenewPresence extends serverID's lease to until.
func (s *Store) RenewPresence(ctx context.Context, serverID string, until time.Time) error {
	if err := store.ValidateLease(serverID, until); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		b, err := tx.CreateBucketIfNotExists(bucketPresence)
		if err != nil {
			return nil, err
		}
		return nil, b.Put([]byte(serverID), appendTime(nil, until))
	})
}

// DropPresence removes serverID's lease.
func (s *Store) DropPresence(ctx context.Context, serverID string) error {
	if err := store.ValidateKey("server_id", serverID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		b := tx.Bucket(bucketPresence)
		if b == nil {
			return nil, nil
		}
		return nil, b.Delete([]byte(serverID))
	})
}

// ExpirePresence removes the leases that ended before now and marks their
// servers' agents offline, in one transaction.
func (s *Store) ExpirePresence(ctx context.Context, now time.Time) ([]store.ExpiredPresence, error) {
	// Compared as stored: to the microsecond.
	now = now.Truncate(time.Microsecond)
	var expired []store.ExpiredPresence
	err := s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		expired = expired[:0]
		leases := tx.Bucket(bucketPresence)
		if leases == nil {
			return nil, nil
		}
		byServer := map[string]int{}
		err := leases.ForEach(func(k, v []byte) error {
			if len(v) == 8 && decodeTime(v).Before(now) {
				byServer[string(k)] = len(expired)
				expired = append(expired, store.ExpiredPresence{ServerID: string(k), Until: decodeTime(v)})
			}
			return nil
		})
		if err != nil || len(expired) == 0 {
			return nil, err
		}
		changes, err := markOffline(tx, func(a apitypes.Agent) bool {
			i, held := byServer[a.ServerID]
			if held {
				expired[i].Agents = append(expired[i].Agents, a.InstanceUID)
			}
			return held
		})
		if err != nil {
			return nil, err
		}
		for _, e := range expired {
			if err := leases.Delete([]byte(e.ServerID)); err != nil {
				return nil, err
			}
		}
		return changes, nil
	})
	if err != nil {
		return nil, err
	}
	return expired, nil
}
