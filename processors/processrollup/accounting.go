package processrollup // import "github.com/phoenix/platform/processors/processrollup"

import (
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// This file holds the counter accounting rule. Every process that flows
// through is observed, members and kept ones alike, and its counters' last
// values are remembered. A process's increment between two consecutive
// observations goes to a group's accumulator iff the process is a member now
// (to its current group) or was one at its previous observation (to that
// group). A process seen for the first time (or with a new start time: PID
// reuse) contributes its full value iff it was born at or after the start of
// its host's previous batch; otherwise it only sets its baseline. See
// README.md for a worked example.
//
// A process that leaves its group (kept now, a member at its previous
// observation) has had everything up to now counted in the group, so its own
// series must not count it again: from then on its counters are exported
// rebased, starting at that observation from 0 (rebase.go).

// procEntry is what the processor remembers about one process.
type procEntry struct {
	// owner is the instance the entry belongs to, for the chain's shared
	// record, which any instance may reach.
	owner *rollupProcessor
	start pcommon.Timestamp // creation time: tells PID reuse apart
	time  pcommon.Timestamp // timestamp of the latest observation
	// group is the group the process was a member of at its latest
	// observation; nil when it was kept.
	group    *group
	lastSeen int64 // wall clock, unix nanoseconds, for process_ttl
	points   []counterPoint
	// inline holds points for the scraper's counters, in the entry itself:
	// one object to fetch per process instead of two.
	inline [scraperCounterPoints]counterPoint
	// evicted is set when the sweep forgets the process, for the pointer
	// the chain's shared record may still hold.
	evicted bool
	// rebase is set while a process that left a group is kept: its own
	// series restart where the group stopped counting it. Rare, so apart.
	rebase *rebase
}

// newProcEntry readies e, zero, as an entry whose points start in its
// inline array.
func newProcEntry(owner *rollupProcessor, e *procEntry) *procEntry {
	e.owner = owner
	e.points = e.inline[:0]
	return e
}

// reset forgets the process the entry described, for a new one under the
// same key. Field by field: owner is written once, at creation, since
// another instance may read it through the chain's shared record.
func (e *procEntry) reset() {
	e.start, e.time, e.group, e.lastSeen, e.evicted, e.rebase = 0, 0, nil, 0, false, nil
	e.points = e.points[:0] // may alias e.inline
}

// scraperCounterPoints is how many counter points the scraper reports per
// process (cpu.time by 3 states, disk.io by 2 directions): entries are sized
// for it.
const scraperCounterPoints = 5

// counterPoint is the last value of one of a process's counter series.
type counterPoint struct {
	series int32
	isInt  bool
	bits   uint64 // the int64 value, or the float64 value's bits
}

// number is a point value of either type.
type number struct {
	isInt bool
	i     int64
	f     float64
}

func valueOf(dp pmetric.NumberDataPoint) (number, bool) {
	if dp.Flags().NoRecordedValue() {
		return number{}, false
	}
	switch dp.ValueType() {
	case pmetric.NumberDataPointValueTypeInt:
		return number{isInt: true, i: dp.IntValue()}, true
	case pmetric.NumberDataPointValueTypeDouble:
		f := dp.DoubleValue()
		// One NaN or Inf would poison an accumulator for good.
		return number{f: f}, !math.IsNaN(f) && !math.IsInf(f, 0)
	default:
		return number{}, false
	}
}

func (c counterPoint) value() number {
	if c.isInt {
		return number{isInt: true, i: int64(c.bits)}
	}
	return number{f: math.Float64frombits(c.bits)}
}

func pointOf(id int32, v number) counterPoint {
	if v.isInt {
		return counterPoint{series: id, isInt: true, bits: uint64(v.i)}
	}
	return counterPoint{series: id, bits: math.Float64bits(v.f)}
}

// increment returns cur's growth since prev: cur - prev, or cur when the
// counter went down (a reset under the same start time) or changed type.
func increment(prev, cur number) number {
	switch {
	case prev.isInt != cur.isInt:
		return cur
	case cur.isInt && cur.i >= prev.i:
		return number{isInt: true, i: cur.i - prev.i}
	case !cur.isInt && cur.f >= prev.f:
		return number{f: cur.f - prev.f}
	default:
		return cur
	}
}

// advance records cur as the latest value of series id and returns the
// increment it brings. A series the entry has no value for yet contributes
// cur when full is true (a newborn process) and nothing otherwise.
func (e *procEntry) advance(id int32, cur number, full bool) (number, bool) {
	for i := range e.points {
		if e.points[i].series == id {
			inc := increment(e.points[i].value(), cur)
			e.points[i] = pointOf(id, cur)
			return inc, true
		}
	}
	e.points = append(e.points, pointOf(id, cur))
	return cur, full
}

// add adds v to a, converting v to a's type.
func (a *number) add(v number) {
	switch {
	case a.isInt && v.isInt:
		a.i += v.i
	case a.isInt:
		a.i += int64(v.f)
	case v.isInt:
		a.f += float64(v.i)
	default:
		a.f += v.f
	}
}
