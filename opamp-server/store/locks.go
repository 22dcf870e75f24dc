package store

import (
	"context"
	"sync"
)

// Locks are per-key mutual exclusion within one process: the embedded
// store's LockExperiment (it has one process), and the in-process half of
// PostgreSQL's.
type Locks struct {
	mu   sync.Mutex
	held map[string]chan struct{}
}

// Lock waits until key is free or ctx ends, and returns the function that
// frees it.
func (l *Locks) Lock(ctx context.Context, key string) (func(), error) {
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = map[string]chan struct{}{}
		}
		wait, busy := l.held[key]
		if !busy {
			freed := make(chan struct{})
			l.held[key] = freed
			l.mu.Unlock()
			var once sync.Once
			return func() {
				once.Do(func() {
					l.mu.Lock()
					delete(l.held, key)
					l.mu.Unlock()
					close(freed)
				})
			}, nil
		}
		l.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}
