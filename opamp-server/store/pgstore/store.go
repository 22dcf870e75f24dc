// Package pgstore is the PostgreSQL store, for one or many phoenix server
// replicas sharing a database. Writes notify every replica's watchers with
// pg_notify in the writing transaction, so a change is announced exactly
// when it commits.
package pgstore // import "github.com/phoenix/platform/opamp-server/store/pgstore"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/internal/watchhub"
)

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	pool     *pgxpool.Pool
	hub      *watchhub.Hub
	listener *listener
	now      func() time.Time
	closed   atomic.Bool
	once     sync.Once
	locks    store.Locks
	// heldLocks maps each held experiment lock to its unlock, so Close
	// can release their connections.
	heldLocks sync.Map
	// groups gathers agent upserts into shared transactions.
	groups groupCommit
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	logger *slog.Logger
}

// WithLogger sets where the store logs lost and restored notification
// connections. The default discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// DefaultStatementTimeout is PostgreSQL's statement_timeout for the store's
// connections unless the DSN sets one.
const DefaultStatementTimeout = "10s"

// Open connects to the database at dsn (a postgres:// URL or key=value
// string; pgxpool settings such as pool_max_conns are honoured), applies
// pending migrations and returns the store.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	// A statement PostgreSQL itself cannot finish in time (a lock held by a
	// stuck session) fails instead of holding a connection; the DSN may set
	// its own (options=-c statement_timeout=…).
	if _, set := cfg.ConnConfig.RuntimeParams["statement_timeout"]; !set {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = DefaultStatementTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: migrate: %w", err)
	}
	hub := watchhub.New()
	return &Store{
		pool:     pool,
		hub:      hub,
		listener: newListener(cfg.ConnConfig, hub, o.logger),
		now:      time.Now,
	}, nil
}

// Close stops the notification listener, closes every watcher's channel and
// the connection pool. It is idempotent.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closed.Store(true)
		s.listener.stop()
		s.hub.Close()
		// The pool waits for every acquired connection: release the
		// experiment locks' first.
		s.heldLocks.Range(func(_, unlock any) bool {
			unlock.(func())()
			return true
		})
		s.pool.Close()
	})
	return nil
}

// Ping checks that the database answers (readiness).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.pool.Ping(ctx)
}

// Watch delivers changes committed by any replica on this database until
// ctx ends or the store closes. The first call opens the store's LISTEN
// connection (failing if it cannot); a lost connection is reopened with
// backoff and announced with store.ChangeResync, since changes committed
// while it was down are not delivered.
func (s *Store) Watch(ctx context.Context) (<-chan store.Change, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if err := s.listener.start(ctx); err != nil {
		return nil, fmt.Errorf("postgres store: watch: %w", err)
	}
	return s.hub.Subscribe(ctx)
}

func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return ctx.Err()
}

// write runs fn in a transaction that also announces fn's changes.
func (s *Store) write(ctx context.Context, fn func(pgx.Tx) ([]store.Change, error)) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.wrap(pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		changes, err := fn(tx)
		if err != nil || len(changes) == 0 {
			return err
		}
		return notify(ctx, tx, changes)
	}))
}

// read checks the store is usable and wraps fn's error.
func (s *Store) read(ctx context.Context, fn func() error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	return s.wrap(fn())
}

// wrap reports a pool closed under a running call as store.ErrClosed.
func (s *Store) wrap(err error) error {
	if err != nil && s.closed.Load() && !errors.Is(err, store.ErrClosed) {
		return fmt.Errorf("%w: %w", store.ErrClosed, err)
	}
	return err
}

// notifyChannel is the LISTEN/NOTIFY channel changes travel on.
const notifyChannel = "phoenix_changes"

// notify queues one notification per change, delivered at commit.
func notify(ctx context.Context, tx pgx.Tx, changes []store.Change) error {
	payloads := make([]string, len(changes))
	for i, c := range changes {
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		payloads[i] = string(b)
	}
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p", notifyChannel, payloads)
	return err
}
