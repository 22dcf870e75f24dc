package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"context"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// Names the fidelity figures read beyond processmetrics' own.
const (
	metricNetworkIO    = "process.network.io"
	metricRollupCount  = "phoenix.rollup.process.count"
	resourceCPU        = "cpu"
	resourceMemory     = "memory"
	secondsPerNanosecs = 1e-9
)

// quantity is what a datapoint measures, for the fidelity figures.
type quantity uint8

const (
	qCPU quantity = iota
	qDisk
	qNetwork
	qMemory
	qRollupCount
	qNone
	// qCounters counts the counter quantities, measured by increase: those
	// before qMemory.
	qCounters = qMemory
)

func quantityOf(name string) quantity {
	switch name {
	case processmetrics.MetricCPUTime:
		return qCPU
	case processmetrics.MetricDiskIO:
		return qDisk
	case metricNetworkIO:
		return qNetwork
	case processmetrics.MetricMemoryUsage:
		return qMemory
	case metricRollupCount:
		return qRollupCount
	default:
		return qNone
	}
}

// class is the kind of series a point belongs to.
type class uint8

const (
	attributed class = iota // a resource with process.pid
	rolledUp                // a rollup resource
	classes
)

// counterPoint is a datapoint of a counter quantity; pos indexes the batch's
// ids.
type counterPoint struct {
	pos   int32
	q     quantity
	class class
	start pcommon.Timestamp
	value float64
}

// increases sums counter increases by class and quantity.
type increases [classes][qCounters]float64

// resourceFigures is what the walk reads from one resource.
type resourceFigures struct {
	time, start pcommon.Timestamp // latest datapoint time; first counter's start
	cpu         float64           // process.cpu.time, all states summed
	hasCPU      bool
	rss         int64 // process.memory.usage
	rollup      bool  // carries phoenix.rollup.process.count
	rollupCount int64
	hasNetwork  bool
}

// batchWalk is what one pass over a batch collects: every datapoint's series
// identity, the counter points, and the current resource's figures.
type batchWalk struct {
	ids      []uint64
	counters []counterPoint
	res      resourceFigures
}

// batchFigures are the per-batch sums of the coverage figures.
type batchFigures struct {
	inc        increases
	memory     [classes]int64
	rolledUp   int64 // processes folded into rollups
	hasNetwork bool
}

// recordCoverage adds a batch's coverage figures to the counters. The
// network counters stay absent until the metric is seen.
func (m *meter) recordCoverage(ctx context.Context, f *batchFigures) {
	tb, opt := m.telemetry, m.variant
	tb.ProcessorCostMeterCPUTimeAttributed.Add(ctx, f.inc[attributed][qCPU], opt)
	tb.ProcessorCostMeterCPUTimeRolledUp.Add(ctx, f.inc[rolledUp][qCPU], opt)
	tb.ProcessorCostMeterDiskIoAttributed.Add(ctx, int64(math.Round(f.inc[attributed][qDisk])), opt)
	tb.ProcessorCostMeterDiskIoRolledUp.Add(ctx, int64(math.Round(f.inc[rolledUp][qDisk])), opt)
	if f.hasNetwork {
		tb.ProcessorCostMeterNetworkIoAttributed.Add(ctx, int64(math.Round(f.inc[attributed][qNetwork])), opt)
		tb.ProcessorCostMeterNetworkIoRolledUp.Add(ctx, int64(math.Round(f.inc[rolledUp][qNetwork])), opt)
	}
	tb.ProcessorCostMeterMemoryAttributed.Add(ctx, f.memory[attributed], opt)
	tb.ProcessorCostMeterMemoryRolledUp.Add(ctx, f.memory[rolledUp], opt)
	tb.ProcessorCostMeterProcessesRolledUp.Add(ctx, f.rolledUp, opt)
}

// procID identifies a process across PID reuse.
type procID struct {
	host  string
	pid   int64
	start pcommon.Timestamp
}

// procState is the reference's memory of a process: its previous CPU
// reading, for the CPU rate, and whether it was already counted notable.
type procState struct {
	cpu     float64
	time    pcommon.Timestamp
	hasCPU  bool
	seen    time.Duration
	counted bool
}

// notableJudge is the reference's side of the blind-spot comparison: it
// finds the notable processes of each scrape. It is not safe for concurrent
// use.
type notableJudge struct {
	cpu        float64 // cores
	memShare   float64
	hostMemory float64 // bytes; 0 judges CPU only
	max        int
	procs      map[procID]*procState
}

func newNotableJudge(cfg *Config, hostMemory int64) *notableJudge {
	return &notableJudge{
		cpu: cfg.Fidelity.NotableCPU, memShare: cfg.Fidelity.NotableMemoryShare,
		hostMemory: float64(hostMemory), max: cfg.MaxTrackedSeries,
		procs: make(map[procID]*procState),
	}
}

// judge reads one process of a scrape. It returns whether the process is
// notable in this scrape, with its figures, and whether this is the first
// time it is (for processor_cost_meter_notable_processes).
func (j *notableJudge) judge(id procID, f *resourceFigures, now time.Duration) (n notable, isNotable, first bool) {
	n = notable{id: id, rss: f.rss}
	st := j.procs[id]
	if st == nil && len(j.procs) < j.max {
		st = &procState{}
		j.procs[id] = st
	}
	if st != nil {
		if f.hasCPU && st.hasCPU && f.time > st.time && f.cpu >= st.cpu {
			n.cpuRate = (f.cpu - st.cpu) / (float64(f.time-st.time) * secondsPerNanosecs)
		}
		if f.time >= st.time {
			st.cpu, st.time, st.hasCPU = f.cpu, f.time, f.hasCPU
		}
		st.seen = now
	}
	n.cpuNotable = n.cpuRate >= j.cpu
	if j.hostMemory > 0 {
		n.memShare = float64(f.rss) / j.hostMemory
		n.memNotable = n.memShare >= j.memShare
	}
	if !n.cpuNotable && !n.memNotable {
		return n, false, false
	}
	if st != nil {
		first = !st.counted
		st.counted = true
	} else {
		first = true // untracked: counted at each sighting, a bound's cost
	}
	return n, true, first
}

// sweep forgets processes not seen for ttl.
func (j *notableJudge) sweep(now, ttl time.Duration) {
	for id, st := range j.procs {
		if now-st.seen >= ttl {
			delete(j.procs, id)
		}
	}
}

// judgeProcesses finds the batch's notable processes and its scrapes, for the
// reference. It runs under m.mu.
func (m *meter) judgeProcesses(rms pmetric.ResourceMetricsSlice, sc *batchScratch, now time.Duration) {
	for i := range sc.processes {
		p := &sc.processes[i]
		attrs := rms.At(p.index).Resource().Attributes()
		host := processmetrics.StringAttr(attrs, processmetrics.AttrHostName)
		sc.addScrape(scrapeKey{host: host, time: p.figures.time})
		n, isNotable, first := m.judge.judge(procID{host: host, pid: p.pid, start: p.figures.start}, &p.figures, now)
		if !isNotable {
			continue
		}
		if first {
			sc.newNotables++
		}
		n.time = p.figures.time
		n.exe = processmetrics.StringAttr(attrs, processmetrics.AttrExecutableName)
		sc.notables = append(sc.notables, n)
	}
}

// compare hands the batch to the fidelity registry: the reference's scrapes
// and notable processes, or (in paired mode) a candidate's scrapes and the
// processes it exported per process.
func (m *meter) compare(ctx context.Context, rms pmetric.ResourceMetricsSlice, sc *batchScratch, sweep bool) {
	reg := m.member.reg
	if sweep {
		reg.sweep(pcommon.Timestamp(m.window))
	}
	if m.member.reference {
		reg.recordReference(ctx, sc.scrapes, sc.notables)
		return
	}
	if !reg.paired.Load() {
		return // split mode: coverage only
	}
	for _, p := range sc.processes {
		host := processmetrics.StringAttr(rms.At(p.index).Resource().Attributes(), processmetrics.AttrHostName)
		k := scrapeKey{host: host, time: p.figures.time}
		sc.addScrape(k)
		sc.exported = append(sc.exported, exportedProcess{scrape: k, pid: p.pid})
	}
	for _, r := range sc.rollups {
		host := processmetrics.StringAttr(rms.At(r.index).Resource().Attributes(), processmetrics.AttrHostName)
		sc.addScrape(scrapeKey{host: host, time: r.time})
	}
	reg.recordCandidate(ctx, m.member, sc.scrapes, sc.exported)
}

// observeExamples reports and forgets the worst blind-spot examples since the
// previous collection.
func (m *meter) observeExamples(_ context.Context, o metric.Float64Observer) error {
	if m.member == nil {
		return nil
	}
	for _, e := range m.member.takeExamples() {
		o.Observe(e.peak, metric.WithAttributeSet(attribute.NewSet(
			attribute.String("variant", m.variantName),
			attribute.String(processmetrics.AttrExecutableName, e.key.exe),
			attribute.String(processmetrics.AttrHostName, e.key.host),
			attribute.String("resource", e.key.resource))))
	}
	return nil
}
