package pgstore

import (
	"context"
	"hash/fnv"
	"sync"
	"time"

	"github.com/phoenix/platform/opamp-server/store"
)

// LockExperiment serialises an experiment's transitions across replicas
// with a PostgreSQL session advisory lock, held on a connection of its own
// until unlock: a replica that dies ends its session, and with it the lock.
// Callers in this process queue in memory first, so waiting holds no
// connection.
func (s *Store) LockExperiment(ctx context.Context, id string) (func(), error) {
	if err := store.ValidateKey("id", id); err != nil {
		return nil, err
	}
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	local, err := s.locks.Lock(ctx, id)
	if err != nil {
		return nil, err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		local()
		return nil, s.wrap(err)
	}
	key := lockKey("experiment:" + id)
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		// A cancelled wait may leave the session in doubt: drop it.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
		local()
		return nil, s.wrap(err)
	}
	var once sync.Once
	token := new(byte)
	unlock := func() {
		once.Do(func() {
			s.heldLocks.Delete(token)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				_ = conn.Conn().Close(ctx) // ending the session releases the lock
			}
			conn.Release()
			local()
		})
	}
	s.heldLocks.Store(token, unlock)
	return unlock, nil
}

// lockKey maps a lock name onto PostgreSQL's 64-bit advisory lock space.
func lockKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("phoenix:" + name))
	return int64(h.Sum64())
}
