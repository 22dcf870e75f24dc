// Package slab allocates the per-process state of Phoenix's processors in
// chunks, in the order processes are first seen. The scraper lists a host's
// processes in the same order every scrape, so a processor walking a batch
// walks its states nearly in memory order: the hardware prefetcher hides
// most of the memory latency that one scattered object per process costs
// (the state lookups of the chain are memory-latency bound).
//
// A chunk is freed once none of its states is referenced; a state is never
// reused for another process, so a stale pointer to an evicted state stays
// a pointer to that state.
package slab // import "github.com/phoenix/platform/processors/internal/slab"

// chunkLen bounds what one long-lived process can keep alive: the rest of
// its chunk, a few KB for the processors' states.
const chunkLen = 64

// Slab hands out zeroed values of T. It is not safe for concurrent use: the
// processors call it under their lock.
type Slab[T any] struct {
	chunk []T
}

// New returns a pointer to a new zero T.
func (s *Slab[T]) New() *T {
	if len(s.chunk) == cap(s.chunk) {
		s.chunk = make([]T, 0, chunkLen)
	}
	s.chunk = s.chunk[:len(s.chunk)+1]
	return &s.chunk[len(s.chunk)-1]
}
