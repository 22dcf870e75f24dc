package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
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

	mu         sync.Mutex
	series     *activeSeries
	critical   *criticalCache
	lastSweep  time.Duration
	overflowed bool // whether max_tracked_series was ever hit (logged once)
}

// batchScratch is one batch's working memory.
type batchScratch struct {
	ids       []uint64
	processes []processRef
	critical  map[processmetrics.Key]struct{}
}

// processRef points at a process resource of the batch being measured.
type processRef struct {
	resource uint64 // hash of its attributes
	index    int    // in the batch's ResourceMetrics
	pid      int64
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
			return &batchScratch{critical: make(map[processmetrics.Key]struct{})}
		}},
		series:   newActiveSeries(cfg.ActiveSeriesWindow, cfg.MaxTrackedSeries),
		critical: newCriticalCache(matcher, cfg.MaxTrackedSeries),
	}, nil
}

// start registers the active-series gauge, which is computed when read so it
// falls as series expire even when no data flows.
func (m *meter) start(context.Context, component.Host) error {
	return m.telemetry.RegisterProcessorCostMeterActiveSeriesCallback(func(_ context.Context, o metric.Int64Observer) error {
		now := m.clock()
		m.mu.Lock()
		active := m.series.count(now)
		m.mu.Unlock()
		o.Observe(int64(active), m.variant)
		return nil
	})
}

func (m *meter) shutdown(context.Context) error {
	m.telemetry.Shutdown()
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
	sc.ids, sc.processes = sc.ids[:0], sc.processes[:0]
	clear(sc.critical)

	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		var resource uint64
		sc.ids, resource = m.hasher.appendResource(sc.ids, rm)
		if pid, ok := processmetrics.PID(rm.Resource()); ok {
			sc.processes = append(sc.processes, processRef{resource: resource, index: i, pid: pid})
		}
	}
	size := m.sizer.MetricsSize(md)

	now := m.clock()
	m.mu.Lock()
	// Sweeping at most every tenth of the window bounds memory while
	// spreading its cost over many batches; the gauge sweeps exactly.
	if now-m.lastSweep >= m.window/10 {
		m.lastSweep = now
		m.series.sweep(now)
		m.critical.sweep(now, m.window)
	}
	overflow := m.series.observe(sc.ids, now)
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
	return md, nil
}
