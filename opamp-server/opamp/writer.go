package opamp

import (
	"context"
	"sync"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// recordWriter stores the records of agents synced over a WebSocket behind
// their messages.
//
// An agent applying a configuration sends three or four messages within a
// second (APPLYING; then its effective configuration, health and APPLIED).
// Written one at a time, each message waits for a store transaction and
// the connection's next message waits for it, so a fleet-wide apply
// queues tens of thousands of writes one behind the other and the API
// shows the fleet APPLIED seconds after it is. Here a message updates the
// record held for its agent and returns; one flusher writes the latest
// record of each agent with changes, many at once, and the messages an
// agent sends while a write is under way share the next one.
//
// Nothing is lost by answering first: a record not yet written when the
// process dies is what its agent reports again on reconnecting, because a
// new connection is asked for the full state (onMessage). Before anything
// else writes an agent this replica holds (marking it offline when its
// connection closes, Stop marking every agent offline), its pending
// record is flushed.
type recordWriter struct {
	s *Server

	mu       sync.Mutex
	done     *sync.Cond                // broadcast when a write round ends
	pending  map[string]apitypes.Agent // latest unwritten record by UID
	inflight map[string]bool           // being written now
	failures map[string]bool           // writes failed, not yet seen (failed)
	running  bool                      // a flusher is working on pending
}

const (
	// writerBatch bounds the records one round writes. They are written
	// all at once: the stores commit concurrent writes together (bbolt up
	// to a thousand a transaction, PostgreSQL five hundred), so a round
	// costs a commit or two rather than one per record.
	writerBatch = 1000
	// writeTimeout bounds one record's write.
	writeTimeout = 30 * time.Second
)

func newRecordWriter(s *Server) *recordWriter {
	w := &recordWriter{s: s, pending: map[string]apitypes.Agent{}, inflight: map[string]bool{}, failures: map[string]bool{}}
	w.done = sync.NewCond(&w.mu)
	return w
}

// put queues a's record, replacing any unwritten one of the same agent,
// and returns at once. It reports whether that adds a write (one more of
// this replica's change events to expect) rather than replacing one.
// The caller holds the agent's state lock.
func (w *recordWriter) put(a apitypes.Agent) (added bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev, replaced := w.pending[a.InstanceUID]
	if replaced && a.EffectiveConfig == "" && a.EffectiveConfigHash == prev.EffectiveConfigHash {
		// The held record drops the text once it is queued: the record it
		// replaces carries it, and the store must receive it once.
		a.EffectiveConfig = prev.EffectiveConfig
	}
	w.pending[a.InstanceUID] = a
	if !w.running {
		w.running = true
		go w.run()
	}
	return !replaced
}

// failed reports, once, whether a write of uid's record failed since the
// last call. The caller holds the agent's state lock.
func (w *recordWriter) failed(uid string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	failed := w.failures[uid]
	delete(w.failures, uid)
	return failed
}

// drop forgets uid's unwritten record: something else wrote the agent,
// and the record would overwrite what it wrote.
func (w *recordWriter) drop(uid string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, had := w.pending[uid]
	delete(w.pending, uid)
	return had
}

// flush returns once uid's record is written (or its write failed).
func (w *recordWriter) flush(uid string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		_, pending := w.pending[uid]
		if !pending && !w.inflight[uid] {
			return
		}
		w.done.Wait()
	}
}

// drain returns once every queued record is written (or its write
// failed), or ctx ends.
func (w *recordWriter) drain(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done.Broadcast()
	})
	defer stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.running && ctx.Err() == nil {
		w.done.Wait()
	}
	return ctx.Err()
}

// run writes rounds of pending records until there are none.
func (w *recordWriter) run() {
	for {
		w.mu.Lock()
		if len(w.pending) == 0 {
			w.running = false
			w.done.Broadcast()
			w.mu.Unlock()
			return
		}
		round := make([]apitypes.Agent, 0, min(len(w.pending), writerBatch))
		for uid, a := range w.pending {
			round = append(round, a)
			delete(w.pending, uid)
			w.inflight[uid] = true
			if len(round) == writerBatch {
				break
			}
		}
		w.mu.Unlock()

		w.write(round)

		w.mu.Lock()
		for _, a := range round {
			delete(w.inflight, a.InstanceUID)
		}
		w.done.Broadcast()
		w.mu.Unlock()
	}
}

// write stores one round's records, all at once. It never takes an
// agent's state lock: a message holding it may be waiting in flush.
func (w *recordWriter) write(round []apitypes.Agent) {
	s := w.s
	var wg sync.WaitGroup
	for _, a := range round {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			defer cancel()
			if err := s.set.Store.UpsertAgent(ctx, a); err != nil {
				s.set.Metrics.OpAMPErrors.WithLabelValues("store").Inc()
				s.log.Error("saving agent failed", "agent", a.InstanceUID, "error", err)
				w.mu.Lock()
				w.failures[a.InstanceUID] = true
				w.mu.Unlock()
			}
		})
	}
	wg.Wait()
}
