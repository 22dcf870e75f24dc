package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"context"
	"math"
	"reflect"
	"sync"
	"time"

	"github.com/shirou/gopsutil/v4/mem"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/costmeter/internal/metadata"
)

// meter measures the batches passing through one cost_meter instance.
type meter struct {
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	hasher    seriesHasher
	sizer     pmetric.ProtoMarshaler
	// variant is the attribute set of every measurement, built once.
	variant metric.MeasurementOption
	window  time.Duration
	// now is the clock; epoch anchors the state's times on its monotonic
	// reading.
	now   func() time.Time
	epoch time.Time
	// scratch holds per-batch buffers, reused across batches.
	scratch sync.Pool

	cfg         *Config
	variantName string
	// member is this meter's place in its collector's fidelity registry, set
	// at start; nil when it has none.
	member *member
	// judge finds notable processes; the reference's only, set at start.
	judge *notableJudge

	mu         sync.Mutex
	series     *activeSeries
	critical   *criticalCache
	lastSweep  time.Duration
	overflowed bool // whether max_tracked_series was ever hit (logged once)
}

// batchScratch is one batch's working memory.
type batchScratch struct {
	batchWalk
	processes []processRef
	rollups   []rollupRef
	critical  map[processmetrics.Key]struct{}
	figures   batchFigures

	// The fidelity registry's input.
	scrapes     []scrapeKey
	scrapeSet   map[scrapeKey]struct{}
	notables    []notable
	newNotables int64
	exported    []exportedProcess
}

func (sc *batchScratch) reset() {
	sc.ids, sc.counters, sc.processes, sc.rollups = sc.ids[:0], sc.counters[:0], sc.processes[:0], sc.rollups[:0]
	clear(sc.critical)
	sc.figures = batchFigures{}
	sc.scrapes, sc.notables, sc.exported, sc.newNotables = sc.scrapes[:0], sc.notables[:0], sc.exported[:0], 0
	clear(sc.scrapeSet)
}

// addScrape adds k to the batch's distinct scrapes.
func (sc *batchScratch) addScrape(k scrapeKey) {
	if n := len(sc.scrapes); n > 0 && sc.scrapes[n-1] == k {
		return
	}
	if _, ok := sc.scrapeSet[k]; !ok {
		sc.scrapeSet[k] = struct{}{}
		sc.scrapes = append(sc.scrapes, k)
	}
}

// processRef points at a process resource of the batch being measured.
type processRef struct {
	resource uint64 // hash of its attributes
	index    int    // in the batch's ResourceMetrics
	pid      int64
	figures  resourceFigures
}

// rollupRef points at a rollup resource of the batch being measured.
type rollupRef struct {
	index int
	time  pcommon.Timestamp
}

// readHostMemory returns the host's total memory; tests replace it.
var readHostMemory = func() (uint64, error) {
	vm, err := mem.VirtualMemory()
	if err != nil {
		return 0, err
	}
	return vm.Total, nil
}

func newMeter(set processor.Settings, cfg *Config) (*meter, error) {
	matcher, err := criticalrules.Compile(cfg.Critical)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &meter{
		logger:    set.Logger,
		telemetry: tb,
		hasher:    newSeriesHasher(),
		variant:   metric.WithAttributeSet(attribute.NewSet(attribute.String("variant", cfg.Variant))),
		window:    cfg.ActiveSeriesWindow,
		now:       time.Now,
		epoch:     time.Now(),
		scratch: sync.Pool{New: func() any {
			return &batchScratch{critical: make(map[processmetrics.Key]struct{}), scrapeSet: make(map[scrapeKey]struct{})}
		}},
		cfg:         cfg,
		variantName: cfg.Variant,
		series:      newActiveSeries(cfg.ActiveSeriesWindow, cfg.MaxTrackedSeries),
		critical:    newCriticalCache(matcher, cfg.MaxTrackedSeries),
	}, nil
}

// start registers the active-series gauge, which is computed when read so it
// falls as series expire even when no data flows, and the blind-spot
// examples; it joins the collector's fidelity registry.
func (m *meter) start(_ context.Context, host component.Host) error {
	if m.cfg.Variant == m.cfg.Fidelity.Reference {
		m.judge = newNotableJudge(m.cfg, m.hostMemory())
	}
	m.member = join(host, m.cfg.Variant, m.cfg, m.telemetry.ProcessorCostMeterBlindSpots, m.variant)
	if m.member == nil && m.judge != nil && host != nil && reflect.TypeOf(host).Comparable() {
		m.logger.Warn("another cost_meter of this collector is already the fidelity reference: this one's processes are not compared",
			zap.String("reference", m.cfg.Fidelity.Reference))
	}
	err := m.telemetry.RegisterProcessorCostMeterActiveSeriesCallback(func(_ context.Context, o metric.Int64Observer) error {
		now := m.clock()
		m.mu.Lock()
		active := m.series.count(now)
		m.mu.Unlock()
		o.Observe(int64(active), m.variant)
		return nil
	})
	if err != nil {
		return err
	}
	if err := m.telemetry.RegisterProcessorCostMeterBlindSpotPeakCallback(m.observeExamples); err != nil {
		return err
	}
	return nil
}

// hostMemory returns the memory notable_memory_share applies to, or 0 (CPU
// only) when it cannot be read.
func (m *meter) hostMemory() int64 {
	if m.cfg.Fidelity.HostMemoryBytes > 0 {
		return m.cfg.Fidelity.HostMemoryBytes
	}
	total, err := readHostMemory()
	if err != nil || total == 0 || total > math.MaxInt64 {
		m.logger.Warn("cannot read the host's memory: notable processes are judged by CPU only; set fidelity::host_memory_bytes",
			zap.Error(err))
		return 0
	}
	return int64(total)
}

func (m *meter) shutdown(context.Context) error {
	m.telemetry.Shutdown() // no more callbacks
	if m.member != nil {
		m.member.leave()
		m.member = nil
	}
	return nil
}

// clock returns the time since the meter was created.
func (m *meter) clock() time.Duration { return m.now().Sub(m.epoch) }

// processMetrics measures a batch and passes it on unchanged. Identities are
// hashed outside the lock, so concurrent batches serialise only on updating
// the shared sets.
func (m *meter) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	sc := m.scratch.Get().(*batchScratch)
	defer m.scratch.Put(sc)
	sc.reset()

	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		pid, isProcess := processmetrics.PID(rm.Resource())
		first := len(sc.counters)
		resource := m.hasher.walk(&sc.batchWalk, rm)
		switch r := &sc.res; {
		case isProcess:
			sc.processes = append(sc.processes, processRef{resource: resource, index: i, pid: pid, figures: *r})
			sc.figures.memory[attributed] += r.rss
			sc.figures.hasNetwork = sc.figures.hasNetwork || r.hasNetwork
		case r.rollup:
			for j := first; j < len(sc.counters); j++ {
				sc.counters[j].class = rolledUp
			}
			sc.rollups = append(sc.rollups, rollupRef{index: i, time: r.time})
			sc.figures.memory[rolledUp] += r.rss
			sc.figures.rolledUp += r.rollupCount
			sc.figures.hasNetwork = sc.figures.hasNetwork || r.hasNetwork
		default:
			sc.counters = sc.counters[:first] // neither kind: not measured
		}
	}
	size := m.sizer.MetricsSize(md)

	now := m.clock()
	m.mu.Lock()
	// Sweeping at most every tenth of the window bounds memory while
	// spreading its cost over many batches; the gauge sweeps exactly.
	sweep := now-m.lastSweep >= m.window/10
	if sweep {
		m.lastSweep = now
		m.series.sweep(now)
		m.critical.sweep(now, m.window)
		if m.judge != nil {
			m.judge.sweep(now, m.window)
		}
	}
	overflow := m.series.observeCounters(sc.ids, sc.counters, now, &sc.figures.inc)
	for _, p := range sc.processes {
		attrs := rms.At(p.index).Resource().Attributes()
		if m.critical.isCritical(p.resource, attrs, now) {
			key := processmetrics.Key{PID: p.pid}
			if host, found := attrs.Get(processmetrics.AttrHostName); found {
				key.Host = host.Str()
			}
			sc.critical[key] = struct{}{}
		}
	}
	if m.judge != nil {
		m.judgeProcesses(rms, sc, now)
	}
	firstOverflow := overflow > 0 && !m.overflowed
	m.overflowed = m.overflowed || overflow > 0
	m.mu.Unlock()

	if firstOverflow {
		m.logger.Warn("max_tracked_series reached: new series are left out of active_series until older ones expire",
			zap.Int("max_tracked_series", m.series.max))
	}
	tb := m.telemetry
	tb.ProcessorCostMeterBatches.Add(ctx, 1, m.variant)
	tb.ProcessorCostMeterDatapoints.Add(ctx, int64(len(sc.ids)), m.variant)
	tb.ProcessorCostMeterBytes.Add(ctx, int64(size), m.variant)
	tb.ProcessorCostMeterProcessResources.Add(ctx, int64(len(sc.processes)), m.variant)
	tb.ProcessorCostMeterActiveSeriesOverflow.Add(ctx, int64(overflow), m.variant)
	tb.ProcessorCostMeterCriticalProcesses.Record(ctx, int64(len(sc.critical)), m.variant)
	m.recordCoverage(ctx, &sc.figures)
	if m.judge != nil {
		tb.ProcessorCostMeterNotableProcesses.Add(ctx, sc.newNotables, m.variant)
	}
	if m.member != nil {
		m.compare(ctx, rms, sc, sweep)
	}
	return md, nil
}
