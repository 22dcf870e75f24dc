package processcritical // import "github.com/phoenix/platform/processors/processcritical"

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// hostCache is the cache of one host.name. The scraper lists a host's
// processes in the same order every scrape, so the entries of the host's
// previous batch, in order, find most processes by position; the map by PID
// serves the rest.
type hostCache struct {
	name  string
	procs map[int64]*cacheEntry
	// order holds the entries of the host's previous batch, in batch order;
	// next those of the current one. cursor is where the next process of
	// the current batch is expected in order.
	order, next []*cacheEntry
	cursor      int
	inBatch     bool
}

// match returns the rule matching the process, from the cache when the process
// is unchanged since it was last evaluated. Callers hold p.mu.
func (p *criticalProcessor) match(r processmetrics.Reading, attrs pcommon.Map, identity uint64, now time.Time) (string, *cacheEntry) {
	hc := p.hostCache(r.Key.Host)
	e := hc.find(r.Key.PID)
	ok := e != nil
	if ok && e.start == r.Start && e.identity == identity {
		e.lastSeen = now
		hc.append(e)
		return e.rule, e
	}
	rule, _ := p.matcher.Match(attrs)
	if !ok {
		e = p.entries.New()
		e.pid = r.Key.PID
		hc.procs[r.Key.PID] = e
		p.tracked++
	}
	// The shared record stays: the processors after this one tell a reused
	// PID apart themselves, and may be reading it for a concurrent batch.
	e.start, e.identity, e.rule, e.lastSeen = r.Start, identity, rule, now
	hc.append(e)
	return rule, e
}

// find returns the entry of pid, or nil: first where the previous batch's
// order expects it, then by the map.
func (hc *hostCache) find(pid int64) *cacheEntry {
	if c := hc.cursor; c < len(hc.order) {
		if e := hc.order[c]; e.pid == pid && !e.evicted {
			hc.cursor = c + 1
			return e
		}
	}
	e := hc.procs[pid]
	if e != nil && e.pos < len(hc.order) && hc.order[e.pos] == e {
		hc.cursor = e.pos + 1 // back in step after a process that came or went
	}
	return e
}

// append records e as the next entry of the host's current batch.
func (hc *hostCache) append(e *cacheEntry) {
	e.pos = len(hc.next)
	hc.next = append(hc.next, e)
}

// hostCache returns the cache of a host, creating it, readied for the
// current batch. Callers hold p.mu.
func (p *criticalProcessor) hostCache(name string) *hostCache {
	hc := p.lastHost
	if hc == nil || hc.name != name {
		hc = p.cache[name]
		if hc == nil {
			hc = &hostCache{name: strings.Clone(name), procs: make(map[int64]*cacheEntry)}
			p.cache[hc.name] = hc
		}
		p.lastHost = hc
	}
	if !hc.inBatch {
		hc.inBatch, hc.cursor = true, 0
		hc.next = hc.next[:0]
		p.batchHosts = append(p.batchHosts, hc)
		// Read one word of each entry the batch is expected to hold, in a
		// loop short enough for many of these memory loads to be in flight
		// at once; the walk over the batch then finds them in cache.
		var sum int64
		for _, e := range hc.order {
			sum += e.pid
		}
		p.warmed = sum
	}
	return hc
}

// endBatch makes each host's order of this batch the one the next batch is
// expected in. Callers hold p.mu.
func (p *criticalProcessor) endBatch() {
	for _, hc := range p.batchHosts {
		clear(hc.order) // no reference to entries the sweep may forget
		hc.order, hc.next = hc.next, hc.order[:0]
		hc.inBatch = false
	}
	clear(p.batchHosts)
	p.batchHosts = p.batchHosts[:0]
}

// sweep evicts processes not seen for the TTL, at most twice per TTL so the
// scan's cost stays negligible. Callers hold p.mu.
func (p *criticalProcessor) sweep(now time.Time) {
	if now.Sub(p.lastSweep) < p.ttl/2 {
		return
	}
	p.lastSweep = now
	for name, hc := range p.cache {
		for pid, e := range hc.procs {
			if now.Sub(e.lastSeen) > p.ttl {
				e.evicted = true
				delete(hc.procs, pid)
				p.tracked--
			}
		}
		if len(hc.procs) == 0 {
			delete(p.cache, name)
		}
	}
	p.lastHost = nil
}
