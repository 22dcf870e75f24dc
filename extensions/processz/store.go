package processz // import "github.com/phoenix/platform/extensions/processz"

import (
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/phoenix/platform/processors/contract/decision"
)

// store holds each source's latest decisions. Recorded slices are never
// modified, only replaced, so a snapshot can share them with readers.
type store struct {
	maxSources int
	now        func() time.Time
	onEvict    func()

	mu      sync.RWMutex
	sources map[component.ID]report
	records int // across sources
}

// report is one source's latest decisions and when they arrived.
type report struct {
	source  component.ID
	at      time.Time
	records []decision.Record
}

func newStore(maxSources int, now func() time.Time, onEvict func()) *store {
	return &store{maxSources: maxSources, now: now, onEvict: onEvict, sources: make(map[component.ID]report)}
}

// record replaces source's decisions. A new source beyond maxSources evicts
// the one that reported least recently: a removed pipeline's instance stops
// reporting, so it is the one to go.
func (s *store) record(source component.ID, records []decision.Record) {
	at := s.now()
	s.mu.Lock()
	prev, known := s.sources[source]
	evicted := false
	if !known && len(s.sources) >= s.maxSources {
		s.evictOldest()
		evicted = true
	}
	s.records += len(records) - len(prev.records)
	s.sources[source] = report{source: source, at: at, records: records}
	s.mu.Unlock()
	if evicted {
		s.onEvict()
	}
}

// evictOldest forgets the least recently reporting source. Callers hold s.mu.
func (s *store) evictOldest() {
	var oldest report
	found := false
	for _, r := range s.sources {
		if !found || r.at.Before(oldest.at) {
			oldest, found = r, true
		}
	}
	if found {
		s.records -= len(oldest.records)
		delete(s.sources, oldest.source)
	}
}

// snapshot returns every source's latest report, in no particular order.
func (s *store) snapshot() []report {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]report, 0, len(s.sources))
	for _, r := range s.sources {
		out = append(out, r)
	}
	return out
}

// size returns how many sources and records are held.
func (s *store) size() (sources, records int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sources), s.records
}
