package processrollup // import "github.com/phoenix/platform/processors/processrollup"

import (
	"context"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/chainbatch"
	"github.com/phoenix/platform/processors/internal/slab"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
)

// rollupProcessor folds member processes into groups. All state sits behind
// one mutex: a batch is processed as a whole, so concurrent batches never see
// each other's half-updated accumulators.
type rollupProcessor struct {
	id        component.ID
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	// groupBy is the configured group_by without host.name, which is always
	// part of the key.
	groupBy           []string
	groupByExecutable bool
	ttl               time.Duration
	maxGroups         int
	now               func() time.Time

	mu          sync.Mutex
	recorder    decision.Recorder
	table       *seriesTable
	procs       map[processmetrics.Key]*procEntry
	entries     slab.Slab[procEntry]
	hosts       map[string]*hostState
	groups      map[string]*group
	batch       uint64 // sequence number of the current batch
	lastSweep   time.Time
	lastDropLog time.Time

	// Scratch reused across batches.
	keyBuf     []byte
	touched    []*group     // groups emitted in this batch, in first-touch order
	batchHosts []*hostState // hosts present in this batch
	remove     []bool       // per input resource: member, removed from the output
	lastHost   *hostState
	warmed     int64 // keeps warm's loads from being optimised away
}

// batchStats is what one batch reports once the lock is released.
type batchStats struct {
	members, dropped, skipped, emitted int64
	records                            []decision.Record
}

func newProcessor(set processor.Settings, cfg *Config) (*rollupProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	p := &rollupProcessor{
		id:        set.ID,
		logger:    set.Logger,
		telemetry: tb,
		ttl:       cfg.ProcessTTL,
		maxGroups: cfg.MaxGroups,
		now:       time.Now,
		table:     newSeriesTable(),
		procs:     make(map[processmetrics.Key]*procEntry),
		hosts:     make(map[string]*hostState),
		groups:    make(map[string]*group),
	}
	for _, k := range cfg.GroupBy {
		switch k {
		case processmetrics.AttrHostName:
			continue
		case processmetrics.AttrExecutableName:
			p.groupByExecutable = true
		}
		p.groupBy = append(p.groupBy, k)
	}
	return p, nil
}

func (p *rollupProcessor) start(_ context.Context, host component.Host) error {
	p.mu.Lock()
	p.recorder = decision.FindRecorder(host)
	p.mu.Unlock()
	p.logger.Debug("process_rollup started", zap.Strings("group_by", p.groupBy), zap.Bool("reporting_decisions", p.recorder != nil))
	return nil
}

func (p *rollupProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

func (p *rollupProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	now := p.now()
	var st batchStats

	p.mu.Lock()
	p.batch++
	p.touched, p.batchHosts = p.touched[:0], p.batchHosts[:0]
	rms := md.ResourceMetrics()
	n := rms.Len()
	if p.recorder != nil {
		st.records = make([]decision.Record, 0, n) // handed over: fresh every batch
	}
	if cap(p.remove) < n {
		p.remove = make([]bool, n)
	}
	p.remove = p.remove[:n]
	batch := chainbatch.From(ctx, md)
	ranked := batch != nil && batch.Ranked || carriesKept(rms)
	p.warm(batch)
	hint := 0
	for i := 0; i < n; i++ {
		rm := rms.At(i)
		p.remove[i] = p.consume(rm, batch.Find(rm, &hint), ranked, now.UnixNano(), &st)
	}
	st.emitted = p.emit(rms, now.UnixNano())
	i := 0
	rms.RemoveIf(func(pmetric.ResourceMetrics) bool {
		removed := i < n && p.remove[i]
		i++
		return removed
	})
	p.sweep(now)
	tracked, groups := int64(len(p.procs)), int64(len(p.groups))
	recorder := p.recorder
	logDrop := st.dropped > 0 && (p.lastDropLog.IsZero() || now.Sub(p.lastDropLog) >= p.ttl)
	if logDrop {
		p.lastDropLog = now
	}
	p.mu.Unlock()

	if logDrop {
		p.logger.Warn("max_groups reached: members of new groups are dropped (counted by processor_process_rollup_members_dropped); check group_by",
			zap.Int("max_groups", p.maxGroups), zap.Int64("dropped_in_batch", st.dropped))
	}
	if recorder != nil {
		recorder.RecordDecisions(p.id, st.records)
	}
	p.telemetry.ProcessorProcessRollupMembers.Add(ctx, st.members)
	p.telemetry.ProcessorProcessRollupMembersDropped.Add(ctx, st.dropped)
	p.telemetry.ProcessorProcessRollupGroupsEmitted.Add(ctx, st.emitted)
	p.telemetry.ProcessorProcessRollupDatapointsSkipped.Add(ctx, st.skipped)
	p.telemetry.ProcessorProcessRollupProcessesTracked.Record(ctx, tracked)
	p.telemetry.ProcessorProcessRollupGroupsTracked.Record(ctx, groups)
	return md, nil
}

// consume observes one input resource and reports whether it leaves the
// output (a member, folded into its group). proc is what the processors
// before learned about the resource (nil when they handed nothing on);
// ranked reports that process_topk ranked the batch, so that every process
// it did not keep, and no rule made critical, is a member. Callers hold
// p.mu.
func (p *rollupProcessor) consume(rm pmetric.ResourceMetrics, proc *chainbatch.Proc, ranked bool, now int64, st *batchStats) bool {
	res := rm.Resource()
	var (
		pid               int64
		isProcess, member bool
		hostName          string
		shared            *chainbatch.Shared
	)
	if proc != nil && ranked {
		pid, isProcess, hostName, shared = proc.Reading.Key.PID, true, proc.Reading.Key.Host, proc.Shared
		// Members carry no marker; kept and critical processes do.
		if member = !proc.Kept && !proc.Critical(); !member {
			processmetrics.StripMarkers(res)
		}
	} else {
		pid, isProcess = processmetrics.PID(res)
		m := readMarkers(res.Attributes())
		if m.marked {
			processmetrics.StripMarkers(res)
		}
		hostName = m.host
		// A critical process is never rolled up, whatever marked it.
		member = !m.critical && (m.rollup || ranked && !m.kept)
		if proc != nil {
			shared = proc.Shared
		}
	}
	if !isProcess {
		return false
	}
	host := p.host(hostName, now)
	if !member {
		p.observe(rm, host, pid, shared, nil, now, st)
		return false
	}
	g := p.groupFor(res, host, now)
	if g == nil {
		st.dropped++
		p.observe(rm, host, pid, shared, nil, now, st)
		return true
	}
	st.members++
	p.observe(rm, host, pid, shared, g, now, st)
	if p.recorder != nil {
		st.records = append(st.records, decision.Record{
			PID: pid, Host: host.name, Executable: processmetrics.StringAttr(res.Attributes(), processmetrics.AttrExecutableName),
			Outcome: decision.RolledUp, Group: g.name,
		})
	}
	return true
}

// warm reads one word of each entry the batch's shared records point to,
// in a loop short enough for the processor to have many of these memory
// loads in flight at once; the walk over the batch, too long per process
// for that, then finds the entries in cache. Callers hold p.mu.
func (p *rollupProcessor) warm(batch *chainbatch.Batch) {
	if batch == nil {
		return
	}
	var sum int64
	for i := range batch.Procs {
		if sh := batch.Procs[i].Shared; sh != nil {
			if e, _ := sh.Rollup.Load().(*procEntry); e != nil && e.owner == p {
				// The entry spans a few cache lines: one word of each.
				sum += e.lastSeen + int64(e.inline[0].bits+e.inline[scraperCounterPoints-1].bits)
			}
		}
	}
	p.warmed = sum
}

// host returns the state of a host, readying it for the current batch.
func (p *rollupProcessor) host(name string, now int64) *hostState {
	h := p.lastHost
	if h == nil || h.name != name {
		h = p.hosts[name]
		if h == nil {
			h = &hostState{name: strings.Clone(name)}
			p.hosts[h.name] = h
		}
		p.lastHost = h
	}
	if h.batch != p.batch {
		h.batch, h.batchStart, h.batchEnd, h.lastSeen = p.batch, 0, 0, now
		p.batchHosts = append(p.batchHosts, h)
	}
	return h
}

// groupFor returns the group of a member process, creating it unless
// max_groups groups exist (then nil). The group is readied for the batch.
func (p *rollupProcessor) groupFor(res pcommon.Resource, host *hostState, now int64) *group {
	if len(p.groupBy) == 0 {
		// One group per host: no key to build or look up.
		if g := host.group; g != nil && !g.evicted {
			p.touch(g, now)
			return g
		}
	}
	p.keyBuf = appendGroupKey(p.keyBuf[:0], host.name, res.Attributes(), p.groupBy)
	g := p.groups[string(p.keyBuf)]
	if g == nil {
		if len(p.groups) >= p.maxGroups {
			return nil
		}
		g = newGroup(string(p.keyBuf), host, res, p.groupBy, p.groupByExecutable)
		p.groups[g.key] = g
	}
	if len(p.groupBy) == 0 {
		host.group = g
	}
	p.touch(g, now)
	return g
}

// touch marks a group for emission in the current batch.
func (p *rollupProcessor) touch(g *group, now int64) {
	if g.begin(p.batch) {
		g.lastActive = now
		p.touched = append(p.touched, g)
	}
}

// observe runs the accounting rule (accounting.go) over one process and, for
// a member, aggregates its points into its group g. Callers hold p.mu.
func (p *rollupProcessor) observe(rm pmetric.ResourceMetrics, host *hostState, pid int64, shared *chainbatch.Shared, g *group, now int64, st *batchStats) {
	start, ts := firstPoint(rm)
	host.observed(ts)
	e := p.entry(shared, host, pid)
	first := e == nil || e.start != start
	if e == nil {
		e = newProcEntry(p, p.entries.New())
		p.procs[processmetrics.Key{Host: host.name, PID: pid}] = e
		if shared != nil {
			shared.Rollup.Store(e)
		}
	} else if first {
		e.reset() // PID reuse: another process
	}
	e.lastSeen = now
	// An observation older than the last one (batches racing each other)
	// must not move baselines back; its counters are left out.
	stale := !first && ts < e.time
	full := first && host.newborn(start)
	// Increments go to the group the process is a member of now, or else to
	// the one it was a member of at its previous observation.
	target := g
	if target == nil && !stale && e.group != nil && !e.group.evicted {
		target = e.group
		p.touch(target, now)
		target.observed(ts)
	}
	switch {
	case g != nil:
		g.addMember(rm, ts, p.groupBy)
		e.rebase = nil // its own series ends here; the group counts it
	case target != nil:
		e.leave(ts)
	}
	if target != nil || !stale {
		p.walk(rm, e, g, target, stale, full, st)
	}
	if !stale {
		e.start, e.time, e.group = start, ts, g
	}
}

// entry returns a process's entry, from the record the chain shares for it
// when there is one (no lookup), or nil when the process is new. Callers
// hold p.mu.
func (p *rollupProcessor) entry(shared *chainbatch.Shared, host *hostState, pid int64) *procEntry {
	if shared != nil {
		if e, _ := shared.Rollup.Load().(*procEntry); e != nil && e.owner == p && !e.evicted {
			return e
		}
	}
	e := p.procs[processmetrics.Key{Host: host.name, PID: pid}]
	if e != nil && shared != nil {
		shared.Rollup.Store(e)
	}
	return e
}

// walk visits a process's points: every counter advances the process's
// baseline and feeds target; a member's other points are summed into g.
func (p *rollupProcessor) walk(rm pmetric.ResourceMetrics, e *procEntry, g, target *group, stale, full bool, st *batchStats) {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			agg := aggregationOf(m)
			if agg != counter && g == nil {
				continue // a kept process only matters for its counters
			}
			var mi *metricInfo
			if agg != unsupported {
				mi = p.table.metric(m, j, agg)
			}
			if mi == nil {
				if g != nil {
					st.skipped += int64(processmetrics.DataPointCount(m))
				}
				continue
			}
			var dps pmetric.NumberDataPointSlice
			if agg == gauge {
				dps = m.Gauge().DataPoints()
			} else {
				dps = m.Sum().DataPoints()
			}
			for k := 0; k < dps.Len(); k++ {
				dp := dps.At(k)
				v, ok := valueOf(dp)
				var s *series
				if ok {
					s = p.table.series(mi, k, dp.Attributes())
				}
				if s == nil {
					if g != nil {
						st.skipped++
					}
					continue
				}
				if agg != counter {
					g.seriesFor(s, v).addCurrent(v, p.batch)
					continue
				}
				if g != nil {
					g.seriesFor(s, v) // a member's counters are emitted from its first batch on
				}
				if stale {
					continue
				}
				if inc, ok := e.advance(s.id, v, full); ok && target != nil {
					target.seriesFor(s, v).value.add(inc)
				}
				if g == nil && e.rebase != nil {
					// A kept process's target is the group it just left.
					e.rebase.rebased(dp, s.id, v, target != nil)
				}
			}
		}
	}
}

// firstPoint returns the start time and timestamp of a process's first
// cumulative point (the start time is the process's creation time), or of its
// first point of any number metric.
func firstPoint(rm pmetric.ResourceMetrics) (start, ts pcommon.Timestamp) {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			switch m.Type() {
			case pmetric.MetricTypeSum:
				if dps := m.Sum().DataPoints(); dps.Len() > 0 {
					return dps.At(0).StartTimestamp(), dps.At(0).Timestamp()
				}
			case pmetric.MetricTypeGauge:
				if dps := m.Gauge().DataPoints(); dps.Len() > 0 && ts == 0 {
					ts = dps.At(0).Timestamp()
				}
			}
		}
	}
	return 0, ts
}

// emit appends a resource for every group touched in this batch or active
// in its host's previous batch, and moves each host's batch on. It returns
// the number of resources appended. Callers hold p.mu.
func (p *rollupProcessor) emit(rms pmetric.ResourceMetricsSlice, now int64) int64 {
	for _, h := range p.batchHosts {
		for _, g := range h.active {
			if !g.evicted {
				p.touch(g, now)
			}
		}
		h.active = h.active[:0]
	}
	rms.EnsureCapacity(rms.Len() + len(p.touched))
	for _, g := range p.touched {
		g.emit(rms.AppendEmpty(), p.batch)
		if g.members > 0 {
			g.host.active = append(g.host.active, g)
		}
	}
	for _, h := range p.batchHosts {
		h.next()
	}
	return int64(len(p.touched))
}

// sweep evicts processes, groups and hosts not seen for the TTL, at most
// twice per TTL so the scan's cost stays negligible. Callers hold p.mu.
func (p *rollupProcessor) sweep(now time.Time) {
	if now.Sub(p.lastSweep) < p.ttl/2 {
		return
	}
	p.lastSweep = now
	cutoff := now.Add(-p.ttl).UnixNano()
	for k, e := range p.procs {
		if e.lastSeen < cutoff {
			e.evicted = true
			delete(p.procs, k)
		}
	}
	for k, g := range p.groups {
		if g.lastActive < cutoff {
			g.evicted = true
			delete(p.groups, k)
		}
	}
	for k, h := range p.hosts {
		if h.lastSeen < cutoff {
			delete(p.hosts, k)
		}
	}
	p.lastHost = nil
}
