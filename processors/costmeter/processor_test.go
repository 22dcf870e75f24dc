package costmeter

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/costmeter/internal/metadata"
	"github.com/phoenix/platform/processors/costmeter/internal/metadatatest"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testMeter is a started cost_meter whose clock the test moves.
type testMeter struct {
	processor.Metrics
	m    *meter
	sink *consumertest.MetricsSink
	tel  *componenttest.Telemetry
	now  *time.Time
}

func newTestMeter(t *testing.T, cfg *Config) *testMeter {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	return newTestMeterWithTelemetry(t, cfg, tel, component.NewIDWithName(metadata.Type, cfg.Variant))
}

func newTestMeterWithTelemetry(t *testing.T, cfg *Config, tel *componenttest.Telemetry, id component.ID) *testMeter {
	t.Helper()
	return newTestMeterOnHost(t, cfg, tel, id, newTestHost(t))
}

// newTestMeterOnHost starts a meter in the collector host stands for.
func newTestMeterOnHost(t *testing.T, cfg *Config, tel *componenttest.Telemetry, id component.ID, host component.Host) *testMeter {
	t.Helper()
	require.NoError(t, cfg.Validate())
	set := metadatatest.NewSettings(tel)
	set.ID = id
	m, err := newMeter(set, cfg)
	require.NoError(t, err)
	now := t0
	m.now = func() time.Time { return now }
	m.epoch = t0

	sink := &consumertest.MetricsSink{}
	p, err := newProcessor(t.Context(), set, cfg, sink, m)
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context(), host))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return &testMeter{Metrics: p, m: m, sink: sink, tel: tel, now: &now}
}

func testConfig(variant string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Variant = variant
	return cfg
}

// proc is a scraper-shaped process; its executable names its command line.
func proc(pid int64, exe string) processmetrics.Process {
	return processmetrics.Process{
		PID: pid, ParentPID: 1, ExecutableName: exe, ExecutablePath: "/usr/bin/" + exe,
		Command: exe, CommandLine: "/usr/bin/" + exe + " --serve", Owner: "root",
		Start: pcommon.NewTimestampFromTime(t0.Add(-time.Hour)), CPUUser: 1, MemoryRSS: 1 << 20,
	}
}

// batch renders processes as one scrape.
func batch(procs ...processmetrics.Process) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := range procs {
		procs[i].AppendTo(md.ResourceMetrics(), pcommon.NewTimestampFromTime(t0))
	}
	return md
}

// appendAggregate appends a resource that is not a process (as
// process_rollup emits), with a two-point sum and a one-point histogram.
func appendAggregate(md pmetric.Metrics, group string) {
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("phoenix.rollup.group", group)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	sum := ms.AppendEmpty()
	sum.SetName(processmetrics.MetricCPUTime)
	points := sum.SetEmptySum().DataPoints()
	for _, state := range []string{"user", "system"} {
		dp := points.AppendEmpty()
		dp.Attributes().PutStr(processmetrics.AttrState, state)
		dp.SetDoubleValue(1)
	}
	hist := ms.AppendEmpty()
	hist.SetName("phoenix.rollup.processes")
	hist.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(3)
}

var variantAttr = func(v string) attribute.Set { return attribute.NewSet(attribute.String("variant", v)) }

// want is the datapoint of the variant's telemetry.
func want(variant string, v int64) []metricdata.DataPoint[int64] {
	return []metricdata.DataPoint[int64]{{Attributes: variantAttr(variant), Value: v}}
}

func (tm *testMeter) consume(t *testing.T, md pmetric.Metrics) {
	t.Helper()
	require.NoError(t, tm.ConsumeMetrics(t.Context(), md))
}

func (tm *testMeter) advance(d time.Duration) { *tm.now = tm.now.Add(d) }

func (tm *testMeter) assertActiveSeries(t *testing.T, variant string, series int64) {
	t.Helper()
	metadatatest.AssertEqualProcessorCostMeterActiveSeries(t, tm.tel, want(variant, series), metricdatatest.IgnoreTimestamp())
}

func TestPassesDataThroughUnchanged(t *testing.T) {
	tm := newTestMeter(t, testConfig("candidate"))
	assert.False(t, tm.Capabilities().MutatesData)

	md := batch(proc(10, "postgres"), proc(11, "bash"))
	appendAggregate(md, "others")
	var marshaler pmetric.ProtoMarshaler
	before, err := marshaler.MarshalMetrics(md)
	require.NoError(t, err)
	md.MarkReadOnly() // any write would panic

	tm.consume(t, md)
	require.Len(t, tm.sink.AllMetrics(), 1)
	after, err := marshaler.MarshalMetrics(tm.sink.AllMetrics()[0])
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

func TestMeasuresBatch(t *testing.T) {
	tm := newTestMeter(t, testConfig("candidate"))
	procs := []processmetrics.Process{proc(10, "postgres"), proc(11, "bash"), proc(12, "nginx"), proc(13, "python3")}
	procs[3].NoDiskIO = true // 5 datapoints instead of 7
	md := batch(procs...)
	appendAggregate(md, "others")
	size := (&pmetric.ProtoMarshaler{}).MetricsSize(md)

	tm.consume(t, md)

	const datapoints = 3*7 + 5 + 3 // three full processes, one without disk I/O, the aggregate
	require.Equal(t, datapoints, md.DataPointCount())
	metadatatest.AssertEqualProcessorCostMeterBatches(t, tm.tel, want("candidate", 1), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterDatapoints(t, tm.tel, want("candidate", datapoints), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterBytes(t, tm.tel, want("candidate", int64(size)), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterProcessResources(t, tm.tel, want("candidate", 4), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterCriticalProcesses(t, tm.tel, want("candidate", 2), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterActiveSeriesOverflow(t, tm.tel, want("candidate", 0), metricdatatest.IgnoreTimestamp())
	tm.assertActiveSeries(t, "candidate", datapoints)

	// A second identical scrape adds to the counters but not to the series.
	tm.advance(10 * time.Second)
	tm.consume(t, md)
	metadatatest.AssertEqualProcessorCostMeterBatches(t, tm.tel, want("candidate", 2), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterDatapoints(t, tm.tel, want("candidate", 2*datapoints), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterBytes(t, tm.tel, want("candidate", int64(2*size)), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterProcessResources(t, tm.tel, want("candidate", 8), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterCriticalProcesses(t, tm.tel, want("candidate", 2), metricdatatest.IgnoreTimestamp())
	tm.assertActiveSeries(t, "candidate", datapoints)
}

func TestActiveSeriesExpireAfterWindow(t *testing.T) {
	cfg := testConfig("candidate")
	cfg.ActiveSeriesWindow = time.Minute
	tm := newTestMeter(t, cfg)

	tm.consume(t, batch(proc(1, "a"), proc(2, "b"))) // t0: 1 and 2
	tm.advance(30 * time.Second)
	tm.consume(t, batch(proc(2, "b"), proc(3, "c"))) // t0+30s: 2 and 3
	tm.assertActiveSeries(t, "candidate", 3*7)

	// Just before 1's series are a window old they still count...
	tm.advance(30*time.Second - time.Nanosecond)
	tm.assertActiveSeries(t, "candidate", 3*7)
	// ...and at a window old they no longer do, without any new batch.
	tm.advance(time.Nanosecond)
	tm.assertActiveSeries(t, "candidate", 2*7)

	tm.advance(30 * time.Second)
	tm.assertActiveSeries(t, "candidate", 0)

	// A process seen again after expiring is active again.
	tm.consume(t, batch(proc(1, "a")))
	tm.assertActiveSeries(t, "candidate", 7)
}

func TestSeriesIdentity(t *testing.T) {
	tm := newTestMeter(t, testConfig("candidate"))
	md := batch(proc(1, "a"), proc(1, "a")) // the same series twice
	// The same process with its resource attributes in another order.
	other := batch(proc(1, "a"))
	reordered := md.ResourceMetrics().AppendEmpty()
	other.ResourceMetrics().At(0).CopyTo(reordered)
	attrs := reordered.Resource().Attributes()
	pid, _ := attrs.Get(processmetrics.AttrPID)
	pidValue := pid.Int()
	attrs.Remove(processmetrics.AttrPID)
	attrs.PutInt(processmetrics.AttrPID, pidValue)
	// The same process on another host: new series.
	onHost := batch(proc(1, "a"))
	onHost.ResourceMetrics().At(0).Resource().Attributes().PutStr(processmetrics.AttrHostName, "db-1")
	onHost.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())

	tm.consume(t, md)
	metadatatest.AssertEqualProcessorCostMeterDatapoints(t, tm.tel, want("candidate", 4*7), metricdatatest.IgnoreTimestamp())
	tm.assertActiveSeries(t, "candidate", 2*7)
}

func TestCriticalProcesses(t *testing.T) {
	cfg := testConfig("candidate")
	cfg.Critical = criticalrules.Rules{{Name: "billing", ExecutableName: "python3", CommandLine: ".*--queue=billing.*"}}
	tm := newTestMeter(t, cfg)

	billing := proc(20, "python3")
	billing.CommandLine = "python3 worker.py --queue=billing"
	other := proc(21, "python3")
	md := batch(billing, other, billing) // the same process twice counts once
	// A process carrying process_critical's marker is not critical here:
	// cost_meter runs after the markers are stripped and trusts its rules.
	marked := batch(proc(22, "postgres"))
	marked.ResourceMetrics().At(0).Resource().Attributes().PutStr(processmetrics.MarkerCriticalRule, "databases")
	marked.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	// The same PID on another host is another process.
	elsewhere := batch(billing)
	elsewhere.ResourceMetrics().At(0).Resource().Attributes().PutStr(processmetrics.AttrHostName, "worker-2")
	elsewhere.ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())

	tm.consume(t, md)
	metadatatest.AssertEqualProcessorCostMeterCriticalProcesses(t, tm.tel, want("candidate", 2), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterProcessResources(t, tm.tel, want("candidate", 5), metricdatatest.IgnoreTimestamp())

	// The gauge describes the latest batch only.
	tm.consume(t, batch(other))
	metadatatest.AssertEqualProcessorCostMeterCriticalProcesses(t, tm.tel, want("candidate", 0), metricdatatest.IgnoreTimestamp())
}

func TestCriticalCacheFollowsAttributes(t *testing.T) {
	cfg := testConfig("candidate")
	cfg.Critical = criticalrules.Rules{{Name: "db", ExecutableName: "postgres"}}
	tm := newTestMeter(t, cfg)

	tm.consume(t, batch(proc(30, "postgres")))
	metadatatest.AssertEqualProcessorCostMeterCriticalProcesses(t, tm.tel, want("candidate", 1), metricdatatest.IgnoreTimestamp())
	// PID 30 reused by a non-critical program.
	tm.advance(10 * time.Second)
	tm.consume(t, batch(proc(30, "bash")))
	metadatatest.AssertEqualProcessorCostMeterCriticalProcesses(t, tm.tel, want("candidate", 0), metricdatatest.IgnoreTimestamp())
	// Expired cache entries are evaluated afresh.
	tm.advance(10 * time.Minute)
	tm.consume(t, batch(proc(30, "postgres")))
	metadatatest.AssertEqualProcessorCostMeterCriticalProcesses(t, tm.tel, want("candidate", 1), metricdatatest.IgnoreTimestamp())
}

func TestMaxTrackedSeries(t *testing.T) {
	cfg := testConfig("candidate")
	cfg.ActiveSeriesWindow = time.Minute
	cfg.MaxTrackedSeries = 10
	tm := newTestMeter(t, cfg)

	tm.consume(t, batch(proc(1, "a"), proc(2, "b"))) // 14 series, room for 10
	tm.assertActiveSeries(t, "candidate", 10)
	metadatatest.AssertEqualProcessorCostMeterActiveSeriesOverflow(t, tm.tel, want("candidate", 4), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterDatapoints(t, tm.tel, want("candidate", 14), metricdatatest.IgnoreTimestamp())

	// Tracked series keep being tracked; the set stays full.
	tm.advance(10 * time.Second)
	tm.consume(t, batch(proc(1, "a"), proc(2, "b")))
	metadatatest.AssertEqualProcessorCostMeterActiveSeriesOverflow(t, tm.tel, want("candidate", 8), metricdatatest.IgnoreTimestamp())

	// Once the old series expire there is room again.
	tm.advance(time.Minute)
	tm.consume(t, batch(proc(3, "c")))
	tm.assertActiveSeries(t, "candidate", 7)
	metadatatest.AssertEqualProcessorCostMeterActiveSeriesOverflow(t, tm.tel, want("candidate", 8), metricdatatest.IgnoreTimestamp())
}

func TestVariantsAreMeasuredApart(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	baseline := newTestMeterWithTelemetry(t, testConfig("baseline"), tel, component.NewIDWithName(metadata.Type, "baseline"))
	candidate := newTestMeterWithTelemetry(t, testConfig("candidate"), tel, component.NewIDWithName(metadata.Type, "candidate"))

	baseline.consume(t, batch(proc(1, "a"), proc(2, "b"), proc(3, "postgres")))
	candidate.consume(t, batch(proc(3, "postgres")))

	both := func(b, c int64) []metricdata.DataPoint[int64] {
		return []metricdata.DataPoint[int64]{
			{Attributes: variantAttr("baseline"), Value: b},
			{Attributes: variantAttr("candidate"), Value: c},
		}
	}
	opts := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}
	metadatatest.AssertEqualProcessorCostMeterDatapoints(t, tel, both(21, 7), opts...)
	metadatatest.AssertEqualProcessorCostMeterProcessResources(t, tel, both(3, 1), opts...)
	metadatatest.AssertEqualProcessorCostMeterCriticalProcesses(t, tel, both(1, 1), opts...)
	metadatatest.AssertEqualProcessorCostMeterActiveSeries(t, tel, both(21, 7), opts...)
}

func TestConcurrentBatches(t *testing.T) {
	tm := newTestMeter(t, testConfig("candidate"))
	const goroutines, batches = 8, 50
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range batches {
				exe := "bash"
				if i%10 == 0 {
					exe = "postgres"
				}
				// Every goroutine repeats the same 5 processes.
				pid := int64(g*100 + i%5)
				assert.NoError(t, tm.ConsumeMetrics(context.Background(), batch(proc(pid, exe))))
			}
		})
	}
	wg.Wait()

	metadatatest.AssertEqualProcessorCostMeterBatches(t, tm.tel, want("candidate", goroutines*batches), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterDatapoints(t, tm.tel, want("candidate", goroutines*batches*7), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCostMeterProcessResources(t, tm.tel, want("candidate", goroutines*batches), metricdatatest.IgnoreTimestamp())
	// pid%5 == 0 runs postgres and bash alternately: two processes each.
	tm.assertActiveSeries(t, "candidate", goroutines*6*7)
}
