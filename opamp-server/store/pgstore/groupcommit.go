package pgstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/phoenix/platform/opamp-server/store"
)

// Group commit: a fleet reports all at once (10,000 agents applying a
// configuration within seconds), and a transaction of its own for each
// report costs four round trips, a WAL flush and a turn on the lock every
// notifying commit takes. Agent upserts arriving together share one
// transaction instead, like the embedded store's db.Batch.
const (
	// groupDelay is how long the first write of a group waits for others.
	groupDelay = 2 * time.Millisecond
	// groupMax is the most writes one transaction carries.
	groupMax = 500
	// groupTimeout bounds a group's transaction: its writes' callers may
	// have gone, so it cannot run on any one caller's context.
	groupTimeout = 30 * time.Second
)

// groupWrite is one write waiting for its group's commit.
type groupWrite struct {
	fn   groupedFunc
	done chan error
}

// groupedFunc is a grouped write; ctx is its group's, not its caller's.
type groupedFunc func(ctx context.Context, tx pgx.Tx) ([]store.Change, error)

// group is the writes that will commit together.
type group struct {
	writes []groupWrite
	start  sync.Once
}

type groupCommit struct {
	mu      sync.Mutex
	pending *group
	// shared counts the transactions that committed more than one write.
	shared atomic.Int64
}

// writeGrouped runs fn in a transaction shared with the writes that arrive
// within groupDelay of the group's first. Each caller gets its own write's
// error: when the shared transaction fails, every write is retried in a
// transaction of its own, so one bad write fails only itself.
func (s *Store) writeGrouped(ctx context.Context, fn groupedFunc) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	w := groupWrite{fn: fn, done: make(chan error, 1)}
	s.groups.mu.Lock()
	g := s.groups.pending
	if g == nil {
		g = &group{}
		s.groups.pending = g
		time.AfterFunc(groupDelay, func() { s.commitGroup(g) })
	}
	g.writes = append(g.writes, w)
	if len(g.writes) >= groupMax {
		s.groups.pending = nil
		go s.commitGroup(g)
	}
	s.groups.mu.Unlock()

	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err() // the write may still commit
	}
}

// commitGroup commits g once, whichever of its timer and its filling up
// comes first.
func (s *Store) commitGroup(g *group) {
	g.start.Do(func() {
		s.groups.mu.Lock()
		if s.groups.pending == g {
			s.groups.pending = nil
		}
		s.groups.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
		defer cancel()
		err := s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) {
			var all []store.Change
			for _, w := range g.writes {
				changes, err := w.fn(ctx, tx)
				if err != nil {
					return nil, err
				}
				all = append(all, changes...)
			}
			return all, nil
		})
		if err == nil && len(g.writes) > 1 {
			s.groups.shared.Add(1)
		}
		if err == nil || len(g.writes) == 1 {
			for _, w := range g.writes {
				w.done <- err
			}
			return
		}
		for _, w := range g.writes {
			w.done <- s.write(ctx, func(tx pgx.Tx) ([]store.Change, error) { return w.fn(ctx, tx) })
		}
	})
}
