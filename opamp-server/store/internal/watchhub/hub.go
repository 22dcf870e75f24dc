// Package watchhub fans store changes out to watchers without ever blocking
// the writer: a watcher whose buffer is full misses the change and is sent a
// store.ChangeResync as soon as it has room, so a gap is always visible.
// Resyncs may repeat (drops while one waits for room ask for another).
package watchhub // import "github.com/phoenix/platform/opamp-server/store/internal/watchhub"

import (
	"context"
	"fmt"
	"sync"

	"github.com/phoenix/platform/opamp-server/store"
)

// Buffer is each watcher's channel capacity: a fleet-wide assignment
// commits a thousand changes at once (store.SetAssignments), and a watcher
// that misses one re-reads everything, so a commit must fit.
const Buffer = 4096

// Hub is a set of watchers. The zero value is not usable; call New.
type Hub struct {
	mu     sync.Mutex
	subs   map[*watcher]struct{}
	closed bool
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

type watcher struct {
	out chan store.Change
	// resync, holding at most one token, asks the watcher's goroutine to
	// deliver a ChangeResync.
	resync chan struct{}
}

// New returns an empty hub.
func New() *Hub {
	return &Hub{subs: make(map[*watcher]struct{}), done: make(chan struct{})}
}

// Subscribe adds a watcher until ctx ends or the hub closes, when its channel
// is closed. It fails with store.ErrClosed after Close.
func (h *Hub) Subscribe(ctx context.Context) (<-chan store.Change, error) {
	w := &watcher{out: make(chan store.Change, Buffer), resync: make(chan struct{}, 1)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, fmt.Errorf("watch: %w", store.ErrClosed)
	}
	h.subs[w] = struct{}{}
	h.wg.Add(1)
	go h.serve(ctx, w)
	return w.out, nil
}

// serve delivers pending resyncs and closes the watcher's channel at the end.
// Only this goroutine closes w.out, and only after unregistering it, so
// Publish never sends on a closed channel.
func (h *Hub) serve(ctx context.Context, w *watcher) {
	defer h.wg.Done()
	defer func() {
		h.mu.Lock()
		delete(h.subs, w)
		h.mu.Unlock()
		close(w.out)
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.done:
			return
		case <-w.resync:
			select {
			case w.out <- store.Change{Kind: store.ChangeResync}:
			case <-ctx.Done():
				return
			case <-h.done:
				return
			}
		}
	}
}

// Publish offers c to every watcher without blocking.
func (h *Hub) Publish(c store.Change) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.subs {
		select {
		case w.out <- c:
		default:
			w.requestResync()
		}
	}
}

// Resync tells every watcher to re-read: changes may have been lost.
func (h *Hub) Resync() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.subs {
		w.requestResync()
	}
}

func (w *watcher) requestResync() {
	select {
	case w.resync <- struct{}{}:
	default: // one is already pending
	}
}

// Close ends every watcher, closing its channel before it returns, and
// refuses new ones. It is idempotent.
func (h *Hub) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.wg.Wait()
}
