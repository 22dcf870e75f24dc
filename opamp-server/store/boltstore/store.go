// Package boltstore is the embedded store: one bbolt file, for a single
// phoenix server process. Every write is one bbolt transaction, synced to
// disk before it returns, and Watch fans changes out in process.
package boltstore // import "github.com/phoenix/platform/opamp-server/store/boltstore"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/internal/watchhub"
)

// SchemaVersion is the layout this package reads and writes.
const SchemaVersion = 5 // 2: agent credentials; 3: effective configurations apart, rollouts; 4: assignment texts apart; 5: each distinct assignment text once

// DefaultLockTimeout bounds how long Open waits for another process to
// release the file.
const DefaultLockTimeout = 2 * time.Second

// ErrLocked is returned by Open when another process holds the file.
var ErrLocked = errors.New("store is locked by another phoenix server")

// Store is the embedded implementation of store.Store.
type Store struct {
	db     *bolt.DB
	hub    *watchhub.Hub
	now    func() time.Time
	closed atomic.Bool
	once   sync.Once
	locks  store.Locks
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
}

// WithLockTimeout sets how long Open waits for the file lock.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// Open opens (creating when missing) the store file at path, creating its
// parent directories (0700) and the file (0600).
func Open(path string, opts ...Option) (*Store, error) {
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create store directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (waited %s)", path, ErrLocked, o.lockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Writers that arrive within this of each other share one commit
	// (UpsertAgent); bbolt's default, 10 ms, would slow a lone writer.
	db.MaxBatchDelay = 2 * time.Millisecond
	var stored uint64
	err = db.Update(func(tx *bolt.Tx) error {
		var err error
		stored, err = initSchema(tx)
		return err
	})
	if err == nil && stored != 0 && stored < SchemaVersion {
		err = upgrade(db, stored)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &Store{db: db, hub: watchhub.New(), now: time.Now}, nil
}

// initSchema creates the buckets of a new file and checks the version of an
// existing one, which it returns (0 for a new file). An older file's version
// is left for upgrade to set once its data is migrated.
func initSchema(tx *bolt.Tx) (uint64, error) {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return 0, err
	}
	var stored uint64
	if v := meta.Get(keySchemaVersion); v != nil {
		stored = decodeUint(v)
		if stored > SchemaVersion {
			return 0, fmt.Errorf("store schema version %d is newer than this phoenix server supports (%d): upgrade phoenix", stored, SchemaVersion)
		}
	}
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return 0, err
		}
	}
	if stored != 0 && stored < SchemaVersion {
		return stored, nil
	}
	return stored, meta.Put(keySchemaVersion, encodeUint(SchemaVersion))
}

// Close closes the file and every watcher's channel. It is idempotent.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.closed.Store(true)
		s.hub.Close()
		err = s.db.Close()
	})
	return err
}

// Ping reports whether the store is open.
func (s *Store) Ping(ctx context.Context) error {
	return s.view(ctx, func(*bolt.Tx) error { return nil })
}

// Watch delivers the changes written through this Store until ctx ends or
// the store closes (the embedded store has a single process).
func (s *Store) Watch(ctx context.Context) (<-chan store.Change, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	return s.hub.Subscribe(ctx)
}

// Backup writes a consistent snapshot of the store file to w while the store
// stays in use (one read transaction). The copy opens with Open.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(w)
		return err
	})
}

func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.wrap(s.db.View(fn))
}

// update runs fn in one write transaction, then publishes changes.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) ([]store.Change, error)) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	var changes []store.Change
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		changes, err = fn(tx)
		return err
	})
	if err != nil {
		return s.wrap(err)
	}
	for _, c := range changes {
		s.hub.Publish(c)
	}
	return nil
}

// batch runs fn in a write transaction it may share with other callers'
// (bbolt's Batch: one commit for many writers at once), then publishes
// change (none when its Kind is empty). fn may run more than once, so it must
// be idempotent.
func (s *Store) batch(ctx context.Context, fn func(*bolt.Tx) error, change store.Change) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if err := s.db.Batch(fn); err != nil {
		return s.wrap(err)
	}
	if change.Kind != "" {
		s.hub.Publish(change)
	}
	return nil
}

// wrap reports bbolt's error for a closed database as store.ErrClosed.
func (s *Store) wrap(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	return err
}
