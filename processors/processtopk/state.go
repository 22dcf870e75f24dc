package processtopk // import "github.com/phoenix/platform/processors/processtopk"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// procState is what the processor remembers about one process between
// scrapes. It is kept small: there is one per tracked process.
type procState struct {
	// owner is the instance the state belongs to, for the chain's shared
	// record, which any instance may reach.
	owner *topkProcessor
	// start is the process creation time; a different one under the same
	// key means the PID was reused by a new process.
	start pcommon.Timestamp
	// time and cpuSeconds are the reading the next rate is computed from.
	time       pcommon.Timestamp
	cpuSeconds float64
	cpuRate    float64
	// lastSeen is the wall clock (Unix nanoseconds) of the latest batch the
	// process was in, for process_ttl.
	lastSeen int64
	// outStreak counts consecutive scrapes out of the top k while held.
	outStreak int32
	// kept reports whether the process was kept at its latest scrape.
	kept bool
	// evicted is set when the sweep forgets the process, for the pointer
	// the chain's shared record may still hold.
	evicted bool
}

// observe folds a reading into the state and updates the CPU rate. A process
// seen for the first time, or a new start time (PID reuse), starts from the
// lifetime average with no kept-set history.
func (s *procState) observe(r *processmetrics.Reading) {
	if s.time == 0 || r.Start != s.start {
		// Field by field: owner is written once, at creation, since another
		// instance may read it through the chain's shared record.
		s.start, s.time, s.cpuSeconds, s.cpuRate = r.Start, r.Time, r.CPUSeconds, lifetimeRate(r)
		s.lastSeen, s.outStreak, s.kept, s.evicted = 0, 0, false, false
		return
	}
	dt := int64(r.Time) - int64(s.time)
	if dt <= 0 {
		// A duplicate or out-of-order scrape says nothing about the rate.
		return
	}
	if delta := r.CPUSeconds - s.cpuSeconds; delta >= 0 {
		s.cpuRate = delta / (float64(dt) / 1e9)
	} else {
		// The scraper's counter never goes back for one process; if it does,
		// the lifetime average is the only estimate left.
		s.cpuRate = lifetimeRate(r)
	}
	s.time, s.cpuSeconds = r.Time, r.CPUSeconds
}

// lifetimeRate is the first-sight estimate: CPU seconds over the process's
// age, 0 when the age is unknown, zero or negative.
func lifetimeRate(r *processmetrics.Reading) float64 {
	if r.Start == 0 {
		return 0
	}
	age := int64(r.Time) - int64(r.Start)
	if age <= 0 {
		return 0
	}
	return r.CPUSeconds / (float64(age) / 1e9)
}

// hostState is what the processor remembers about one host.
type hostState struct {
	// k is the k its next scrape is ranked with.
	k        int
	lastSeen int64
}

// sweep evicts processes and hosts not seen for the TTL, at most twice per
// TTL so the scan's cost stays negligible. Callers hold p.mu.
func (p *topkProcessor) sweep(now int64) {
	ttl := int64(p.ttl)
	if now-p.lastSweep < ttl/2 {
		return
	}
	p.lastSweep = now
	for k, s := range p.procs {
		if now-s.lastSeen > ttl {
			s.evicted = true
			delete(p.procs, k)
		}
	}
	for h, s := range p.hosts {
		if now-s.lastSeen > ttl {
			delete(p.hosts, h)
		}
	}
}
