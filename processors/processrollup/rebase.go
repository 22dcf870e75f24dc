package processrollup // import "github.com/phoenix/platform/processors/processrollup"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// rebase restarts the cumulative series of a process that left a group.
// The group counted the process's counters up to the observation at which
// it left (the accounting rule's "was a member at its previous
// observation"); exported whole, the process's own series would count that
// activity a second time wherever it had an earlier point (a process kept,
// rolled up, then kept again) or wherever a backend reads the start time.
// So its counters are exported as value − offset with that observation as
// their start time: 0 when it leaves, then only what it did since.
type rebase struct {
	start pcommon.Timestamp
	// offsets are the raw values at the observation it left at, per series.
	offsets []counterPoint
}

// leave starts a rebase at ts: the process left its group in this
// observation.
func (e *procEntry) leave(ts pcommon.Timestamp) {
	e.rebase = &rebase{start: ts}
}

// rebased rewrites a kept process's counter point dp (series id, raw value
// v) onto the process's rebase, recording the offset when the rebase is new
// to the series: a series the process had not reported when it left counts
// from its first value, as the group never saw it. A value below its offset
// (a counter reset) is exported from the rebase start as it is, and counts
// from 0 from then on.
func (r *rebase) rebased(dp pmetric.NumberDataPoint, id int32, v number, leaving bool) {
	off, ok := r.offset(id)
	if !ok {
		if !leaving {
			off = number{isInt: v.isInt}
		} else {
			off = v
		}
		r.offsets = append(r.offsets, pointOf(id, off))
	}
	dp.SetStartTimestamp(r.start)
	switch {
	case v.isInt && off.isInt && v.i >= off.i:
		dp.SetIntValue(v.i - off.i)
	case !v.isInt && !off.isInt && v.f >= off.f:
		dp.SetDoubleValue(v.f - off.f)
	default:
		r.set(id, number{isInt: v.isInt})
	}
}

func (r *rebase) offset(id int32) (number, bool) {
	for _, p := range r.offsets {
		if p.series == id {
			return p.value(), true
		}
	}
	return number{}, false
}

func (r *rebase) set(id int32, v number) {
	for i := range r.offsets {
		if r.offsets[i].series == id {
			r.offsets[i] = pointOf(id, v)
			return
		}
	}
}
