package processrollup

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
	"github.com/phoenix/platform/processors/processrollup/internal/metadatatest"
)

type recorder struct {
	mu      sync.Mutex
	source  component.ID
	records []decision.Record
	calls   int
}

func (r *recorder) RecordDecisions(source component.ID, records []decision.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.source, r.records = source, records
	r.calls++
}

func (*recorder) Start(context.Context, component.Host) error { return nil }
func (*recorder) Shutdown(context.Context) error              { return nil }

type hostWith struct{ ext component.Component }

func (h hostWith) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{component.MustNewID("processz"): h.ext}
}

// appendMetric adds a metric of an unsupported (or poisoned) kind to the i-th
// resource.
func appendMetric(md pmetric.Metrics, i int, build func(pmetric.Metric)) {
	build(md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics().AppendEmpty())
}

func TestDecisionsAndTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.ID = component.NewIDWithName(metadata.Type, "candidate")
	p, _ := newTestProcessor(t, createDefaultConfig().(*Config), set)
	rec := &recorder{}
	require.NoError(t, p.Start(t.Context(), hostWith{rec}))

	md := scrape(t0, member(1, "web-1", 1, 0), member(2, "web-1", 1, 0), member(3, "web-2", 1, 0), member(4, "web-2", 1, 0).kept())
	// Points the rollup cannot aggregate: a histogram, a delta sum and a NaN.
	appendMetric(md, 0, func(m pmetric.Metric) {
		m.SetName("process.latency")
		m.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(3)
	})
	appendMetric(md, 1, func(m pmetric.Metric) {
		m.SetName("process.faults")
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		s.DataPoints().AppendEmpty().SetIntValue(4)
	})
	appendMetric(md, 2, func(m pmetric.Metric) {
		m.SetName("process.threads")
		m.SetEmptyGauge().DataPoints().AppendEmpty().SetDoubleValue(math.NaN())
	})
	// The kept process's histogram is none of the rollup's business.
	appendMetric(md, 3, func(m pmetric.Metric) {
		m.SetName("process.latency")
		m.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(3)
	})
	require.NoError(t, p.ConsumeMetrics(t.Context(), md))
	require.NoError(t, p.Shutdown(context.Background()))

	assert.Equal(t, set.ID, rec.source)
	assert.ElementsMatch(t, []decision.Record{
		{PID: 1, Host: "web-1", Executable: "worker", Outcome: decision.RolledUp, Group: "host=web-1"},
		{PID: 2, Host: "web-1", Executable: "worker", Outcome: decision.RolledUp, Group: "host=web-1"},
		{PID: 3, Host: "web-2", Executable: "worker", Outcome: decision.RolledUp, Group: "host=web-2"},
	}, rec.records)

	metadatatest.AssertEqualProcessorProcessRollupMembers(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessRollupGroupsEmitted(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessRollupDatapointsSkipped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessRollupMembersDropped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 0}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessRollupProcessesTracked(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 4}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessRollupGroupsTracked(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
}

func TestUnsupportedPointsAreLeftOut(t *testing.T) {
	p, clock := newRollup(t, nil)
	md := scrape(t0, member(1, "h", 1, 0))
	appendMetric(md, 0, func(m pmetric.Metric) {
		m.SetName("process.latency")
		m.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(3)
	})
	appendMetric(md, 0, func(m pmetric.Metric) {
		m.SetName(processmetrics.MetricCPUTime + ".bogus")
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		s.SetIsMonotonic(true)
		dp := s.DataPoints().AppendEmpty()
		dp.SetDoubleValue(1)
		dp.SetFlags(pmetric.DefaultDataPointFlags.WithNoRecordedValue(true))
	})
	out := consume(t, p, clock, t0, md)
	g := rollups(out)["host=h"]
	ms := g.ScopeMetrics().At(0).Metrics()
	names := make([]string, 0, ms.Len())
	for j := 0; j < ms.Len(); j++ {
		names = append(names, ms.At(j).Name())
	}
	assert.Equal(t, []string{
		processmetrics.MetricCPUTime, processmetrics.MetricDiskIO, processmetrics.MetricMemoryUsage,
		processmetrics.MetricMemoryVirtual, MetricProcessCount,
	}, names)
}

func TestMaxGroupsDropsMembersOfNewGroups(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	set := processortest.NewNopSettings(metadata.Type)
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	cfg := createDefaultConfig().(*Config)
	cfg.MaxGroups = 1
	p, err := newProcessor(set, cfg)
	require.NoError(t, err)
	clock := t0
	p.now = func() time.Time { return clock }

	for i := range 3 {
		clock = t0.Add(time.Duration(i) * 10 * time.Second)
		out, err := p.processMetrics(t.Context(), scrape(clock,
			member(1, "web-1", 1, 0), member(2, "web-2", 1, 0), member(3, "web-2", 1, 0).kept()))
		require.NoError(t, err)
		assert.Len(t, rollups(out), 1)
		assert.Equal(t, 2, out.ResourceMetrics().Len(), "the dropped member must not pass through")
	}
	require.NoError(t, p.shutdown(t.Context()))
	assert.Equal(t, 1, logs.Len(), "the overflow is logged once per process_ttl, not per batch")
	metadatatest.AssertEqualProcessorProcessRollupMembersDropped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
}

func TestStateIsEvictedAfterTTL(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.ProcessTTL = time.Minute
	p, clock := newRollup(t, cfg)
	consume(t, p, clock, t0, scrape(t0, member(1, "web-1", 10, 0), member(2, "web-1", 10, 0).kept(), member(3, "web-2", 10, 0)))
	require.Len(t, p.procs, 3)
	require.Len(t, p.groups, 2)
	require.Len(t, p.hosts, 2)

	// web-2 goes quiet; web-1 keeps one process.
	for i := 1; i <= 4; i++ {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		consume(t, p, clock, at, scrape(at, member(1, "web-1", 10+float64(i), 0)))
	}
	assert.Len(t, p.procs, 1)
	assert.Len(t, p.groups, 1)
	assert.Len(t, p.hosts, 1)

	// web-2 comes back: a new accumulator, with a new start time, and no
	// lifetime totals dumped into it.
	at := t0.Add(3 * time.Minute)
	out := consume(t, p, clock, at, scrape(at, member(3, "web-2", 50, 0)))
	g := rollups(out)["host=web-2"]
	assert.Zero(t, cpuUser(t, g))
	assert.Equal(t, pcommon.NewTimestampFromTime(at),
		point(t, g, processmetrics.MetricCPUTime, processmetrics.AttrState, "user").StartTimestamp())
}

func TestOutOfOrderBatchDoesNotMoveBaselines(t *testing.T) {
	p, clock := newRollup(t, nil)
	t1, t2 := t0.Add(10*time.Second), t0.Add(20*time.Second)
	consume(t, p, clock, t0, scrape(t0, member(1, "h", 10, 0)))
	consume(t, p, clock, t2, scrape(t2, member(1, "h", 14, 0)))
	// A late batch from t1 must not look like a reset.
	out := consume(t, p, clock, t2, scrape(t1, member(1, "h", 12, 0)))
	assert.InDelta(t, 4, cpuUser(t, rollups(out)["host=h"]), 1e-9)
	out = consume(t, p, clock, t2.Add(10*time.Second), scrape(t2.Add(10*time.Second), member(1, "h", 15, 0)))
	assert.InDelta(t, 5, cpuUser(t, rollups(out)["host=h"]), 1e-9)
}

// Each goroutine scrapes its own host; batches interleave freely. Whatever the
// interleaving, every host's rollup ends with the sum of its members'
// increments.
func TestConcurrentConsumers(t *testing.T) {
	p, sink := newTestProcessor(t, createDefaultConfig().(*Config), processortest.NewNopSettings(metadata.Type))
	require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
	const hosts, scrapes, procs = 8, 40, 20
	var wg sync.WaitGroup
	for h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := string(rune('a' + h))
			for s := range scrapes {
				at := t0.Add(time.Duration(s) * 10 * time.Second)
				ps := make([]testProc, procs)
				for i := range ps {
					ps[i] = member(int64(i), host, float64(s*(i+1)), int64(s*100))
					ps[i].member = (s+i)%3 != 0
				}
				assert.NoError(t, p.ConsumeMetrics(context.Background(), scrape(at, ps...)))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Shutdown(context.Background()))

	last := map[string]float64{}
	lastTime := map[string]pcommon.Timestamp{}
	for _, md := range sink.AllMetrics() {
		for name, g := range rollups(md) {
			dp := point(t, g, processmetrics.MetricCPUTime, processmetrics.AttrState, "user")
			if dp.Timestamp() >= lastTime[name] {
				last[name], lastTime[name] = dp.DoubleValue(), dp.Timestamp()
			}
		}
	}
	require.Len(t, last, hosts)
	// Every process's cpu grows by i+1 per scrape and is a member at one of
	// any two consecutive scrapes, so every increment after the first
	// scrape counts: sum over i of (scrapes-1)*(i+1).
	want := float64((scrapes - 1) * procs * (procs + 1) / 2)
	for name, v := range last {
		assert.InDelta(t, want, v, 1e-9, name)
	}
}

func TestSeriesTableIsBounded(t *testing.T) {
	p, clock := newRollup(t, nil)
	md := scrape(t0, member(1, "h", 1, 0))
	// A hostile member: one gauge with more attribute sets than the table
	// holds, keyed by an int attribute (the non-string comparison path).
	appendMetric(md, 0, func(m pmetric.Metric) {
		dps := m.SetEmptyGauge().DataPoints()
		m.SetName("process.shards")
		for i := range maxSeries + 10 {
			dp := dps.AppendEmpty()
			dp.Attributes().PutInt("shard", int64(i))
			dp.SetIntValue(1)
		}
	})
	out := consume(t, p, clock, t0, md)
	assert.Len(t, p.table.all, maxSeries)
	shards := 0
	ms := rollups(out)["host=h"].ScopeMetrics().At(0).Metrics()
	for j := 0; j < ms.Len(); j++ {
		if ms.At(j).Name() == "process.shards" {
			shards = ms.At(j).Gauge().DataPoints().Len()
		}
	}
	assert.Equal(t, maxSeries-7, shards, "the scraper's 7 series come first; the rest fill the table")

	// The same points again find their interned series.
	at := t0.Add(10 * time.Second)
	md = scrape(at, member(1, "h", 1, 0))
	appendMetric(md, 0, func(m pmetric.Metric) {
		m.SetName("process.shards")
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.Attributes().PutInt("shard", 3)
		dp.SetIntValue(5)
	})
	out = consume(t, p, clock, at, md)
	assert.Len(t, p.table.all, maxSeries)
	values := map[int64]int64{}
	ms = rollups(out)["host=h"].ScopeMetrics().At(0).Metrics()
	for j := 0; j < ms.Len(); j++ {
		if ms.At(j).Name() != "process.shards" {
			continue
		}
		dps := ms.At(j).Gauge().DataPoints()
		for k := 0; k < dps.Len(); k++ {
			shard, _ := dps.At(k).Attributes().Get("shard")
			values[shard.Int()] = dps.At(k).IntValue()
		}
	}
	assert.Equal(t, map[int64]int64{3: 5}, values, "a gauge no current member reports is no data, not 0")
}
