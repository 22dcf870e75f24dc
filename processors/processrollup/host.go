package processrollup // import "github.com/phoenix/platform/processors/processrollup"

import "go.opentelemetry.io/collector/pdata/pcommon"

// hostState is what the processor remembers about one host.name (the empty
// name stands for processes without one, the usual local scraper).
type hostState struct {
	name string
	// known reports whether the host was seen in an earlier batch; prevStart
	// is then the earliest process timestamp of its previous batch.
	known     bool
	prevStart pcommon.Timestamp
	lastSeen  int64 // wall clock, unix nanoseconds, for process_ttl
	// active lists the groups that had members in the host's previous batch:
	// they are emitted in its next batch even without members, so the last
	// increments of members that left reach the output.
	active []*group
	// group is the host's only group when the processor has no group_by.
	group *group

	// Per batch, valid while batch is the processor's current batch.
	batch                uint64
	batchStart, batchEnd pcommon.Timestamp
}

// observed widens the host's batch interval with a process timestamp.
func (h *hostState) observed(ts pcommon.Timestamp) {
	if ts == 0 {
		return
	}
	if h.batchStart == 0 || ts < h.batchStart {
		h.batchStart = ts
	}
	if ts > h.batchEnd {
		h.batchEnd = ts
	}
}

// since is the moment from which the current batch's new activity counts:
// the start of the host's previous batch, or of this one for a host seen for
// the first time. It is the start time of accumulators created now.
func (h *hostState) since() pcommon.Timestamp {
	if h.known {
		return h.prevStart
	}
	return h.batchStart
}

// newborn reports whether a process seen for the first time was born after
// its host's previous batch began, so that its whole value is new activity.
func (h *hostState) newborn(start pcommon.Timestamp) bool {
	return h.known && start >= h.prevStart
}

// next moves the host on to its next batch once this one is emitted. A batch
// without timestamps teaches nothing about when the host was scraped.
func (h *hostState) next() {
	if h.batchStart != 0 {
		h.known, h.prevStart = true, h.batchStart
	}
}
