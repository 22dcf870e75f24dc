package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// activeSeries is the set of series seen within the window, with when each
// was last seen (as an offset on a monotonic clock). It is an open-addressing
// hash table with linear probing: identities are already uniform hashes, so
// they index the table directly, with no rehashing and no per-entry
// allocation (about 5x faster than a Go map here). It is not safe for
// concurrent use.
type activeSeries struct {
	window time.Duration
	max    int
	slots  []seriesSlot // power-of-two length, at most 3/4 full
	len    int
}

type seriesSlot struct {
	id   uint64 // 0 marks an empty slot
	seen time.Duration
	// start and last are a counter series' start time and latest value, from
	// which its increases are computed; last is NaN until it has one.
	start pcommon.Timestamp
	last  float64
}

const minSlots = 1 << 10

func newActiveSeries(window time.Duration, maxSeries int) *activeSeries {
	return &activeSeries{window: window, max: maxSeries, slots: make([]seriesSlot, minSlots)}
}

// observe marks ids as seen at now and returns how many were left out because
// the set holds max series.
func (s *activeSeries) observe(ids []uint64, now time.Duration) (overflow int) {
	for _, id := range ids {
		if s.touch(id, now) == nil {
			overflow++
		}
	}
	return overflow
}

// observeCounters is observe that also adds, for each counter point (in
// ids order, pos indexing ids), its series' increase since its previous
// point to inc[class][quantity]. The previous values live in the series'
// slots, so they share the set's bound and expiry.
func (s *activeSeries) observeCounters(ids []uint64, counters []counterPoint, now time.Duration, inc *increases) (overflow int) {
	next := 0
	for i, id := range ids {
		slot := s.touch(id, now)
		if slot == nil {
			overflow++
		}
		if next < len(counters) && int(counters[next].pos) == i {
			if c := &counters[next]; slot != nil {
				inc[c.class][c.q] += slot.advance(c.start, c.value)
			}
			next++
		}
	}
	return overflow
}

// advance records a counter point of the slot's series and returns its
// increase. The first point, a reset (a lower value) and a new start time
// start the series again from that point: they add nothing.
func (slot *seriesSlot) advance(start pcommon.Timestamp, v float64) float64 {
	if start != slot.start || !(v >= slot.last) { // also when last is NaN
		slot.start, slot.last = start, v
		return 0
	}
	d := v - slot.last
	slot.last = v
	return d
}

// count expires old series, then returns how many were seen within the
// window before now.
func (s *activeSeries) count(now time.Duration) int {
	s.sweep(now)
	return s.len
}

// touch marks id as seen at now, adding it if there is room. It returns
// id's slot, valid until the next change to the set, or nil when id is not
// in the set.
func (s *activeSeries) touch(id uint64, now time.Duration) *seriesSlot {
	if id == 0 {
		id = 1 // 0 marks empty slots; one more collision in 2^64 is harmless
	}
	mask := uint64(len(s.slots) - 1)
	for i := id & mask; ; i = (i + 1) & mask {
		slot := &s.slots[i]
		if slot.id == id {
			slot.seen = now
			return slot
		}
		if slot.id != 0 {
			continue
		}
		if s.len >= s.max {
			return nil
		}
		if 4*(s.len+1) > 3*len(s.slots) {
			s.resize(2 * len(s.slots))
			return s.touch(id, now)
		}
		*slot = seriesSlot{id: id, seen: now, last: math.NaN()}
		s.len++
		return slot
	}
}

// sweep removes the series last seen a window or more before now, and
// shrinks the table when it has become mostly empty.
func (s *activeSeries) sweep(now time.Duration) {
	mask := uint64(len(s.slots) - 1)
	// Scan one full turn starting after an empty slot: clusters never wrap
	// past the scan's end, so the backward shift of a deletion only moves
	// entries the scan has yet to reach.
	start := uint64(0)
	for s.slots[start].id != 0 {
		start++
	}
	i := (start + 1) & mask
	for steps := 0; steps < len(s.slots); {
		if slot := &s.slots[i]; slot.id != 0 && now-slot.seen >= s.window {
			s.deleteAt(i)
			continue // an entry may have moved into i
		}
		i = (i + 1) & mask
		steps++
	}
	if len(s.slots) > minSlots && 8*s.len < len(s.slots) {
		s.resize(2 * s.len)
	}
}

// deleteAt empties slot hole and closes the gap by moving back later entries
// of its cluster whose probe path crosses it (Knuth's Algorithm R), so
// lookups never need tombstones.
func (s *activeSeries) deleteAt(hole uint64) {
	mask := uint64(len(s.slots) - 1)
	for j := (hole + 1) & mask; s.slots[j].id != 0; j = (j + 1) & mask {
		home := s.slots[j].id & mask
		if (j-home)&mask >= (j-hole)&mask {
			s.slots[hole] = s.slots[j]
			hole = j
		}
	}
	s.slots[hole] = seriesSlot{}
	s.len--
}

// resize rehashes every entry into a table of at least n slots.
func (s *activeSeries) resize(n int) {
	size := minSlots
	for size < n {
		size *= 2
	}
	old := s.slots
	s.slots = make([]seriesSlot, size)
	mask := uint64(len(s.slots) - 1)
	for _, slot := range old {
		if slot.id == 0 {
			continue
		}
		i := slot.id & mask
		for s.slots[i].id != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = slot
	}
}
