package costmeter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/costmeter/internal/metadata"
)

// testHost stands for one collector: the cost_meters started with the same
// testHost share a fidelity registry, and no other test's do.
type testHost struct {
	component.Host
	name string
}

func newTestHost(t *testing.T) *testHost {
	return &testHost{Host: componenttest.NewNopHost(), name: t.Name()}
}

// scrapeAt renders processes as one scrape at ts.
func scrapeAt(ts time.Time, procs ...processmetrics.Process) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := range procs {
		procs[i].AppendTo(md.ResourceMetrics(), pcommon.NewTimestampFromTime(ts))
	}
	return md
}

// onHost sets host.name on every resource of md.
func onHost(md pmetric.Metrics, host string) pmetric.Metrics {
	for i := 0; i < md.ResourceMetrics().Len(); i++ {
		md.ResourceMetrics().At(i).Resource().Attributes().PutStr(processmetrics.AttrHostName, host)
	}
	return md
}

// rollup is a process_rollup aggregate resource.
type rollup struct {
	host              string
	start, ts         time.Time
	members           int64
	cpuUser, cpuSys   float64
	rss               int64
	diskRead, network int64
	hasNetwork        bool
}

// appendTo appends r in process_rollup's shape.
func (r rollup) appendTo(md pmetric.Metrics) {
	rm := md.ResourceMetrics().AppendEmpty()
	attrs := rm.Resource().Attributes()
	if r.host != "" {
		attrs.PutStr(processmetrics.AttrHostName, r.host)
	}
	attrs.PutStr(processmetrics.AttrExecutableName, "_other")
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("github.com/phoenix/platform/processors/processrollup")
	ms := sm.Metrics()
	start, ts := pcommon.NewTimestampFromTime(r.start), pcommon.NewTimestampFromTime(r.ts)
	sum := func(name string, monotonic bool) pmetric.NumberDataPointSlice {
		m := ms.AppendEmpty()
		m.SetName(name)
		s := m.SetEmptySum()
		s.SetIsMonotonic(monotonic)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		return s.DataPoints()
	}
	point := func(dps pmetric.NumberDataPointSlice, key, value string) pmetric.NumberDataPoint {
		dp := dps.AppendEmpty()
		if key != "" {
			dp.Attributes().PutStr(key, value)
		}
		dp.SetStartTimestamp(start)
		dp.SetTimestamp(ts)
		return dp
	}
	cpu := sum(processmetrics.MetricCPUTime, true)
	point(cpu, processmetrics.AttrState, "user").SetDoubleValue(r.cpuUser)
	point(cpu, processmetrics.AttrState, "system").SetDoubleValue(r.cpuSys)
	point(sum(processmetrics.MetricDiskIO, true), processmetrics.AttrDirection, "read").SetIntValue(r.diskRead)
	if r.hasNetwork {
		point(sum(metricNetworkIO, true), processmetrics.AttrDirection, "transmit").SetIntValue(r.network)
	}
	point(sum(processmetrics.MetricMemoryUsage, false), "", "").SetIntValue(r.rss)
	count := ms.AppendEmpty()
	count.SetName(metricRollupCount)
	dp := count.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(ts)
	dp.SetIntValue(r.members)
}

// appendNetwork adds a process.network.io counter to the i-th resource.
func appendNetwork(md pmetric.Metrics, i int, start, ts time.Time, transmit int64) {
	m := md.ResourceMetrics().At(i).ScopeMetrics().At(0).Metrics().AppendEmpty()
	m.SetName(metricNetworkIO)
	s := m.SetEmptySum()
	s.SetIsMonotonic(true)
	s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	dp := s.DataPoints().AppendEmpty()
	dp.Attributes().PutStr(processmetrics.AttrDirection, "transmit")
	dp.SetStartTimestamp(pcommon.NewTimestampFromTime(start))
	dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	dp.SetIntValue(transmit)
}

// sumOf returns the variant's value of a counter, or false when the counter
// has no datapoint for it.
func sumOf[N int64 | float64](t *testing.T, tel *componenttest.Telemetry, name, variant string) (N, bool) {
	t.Helper()
	m, err := tel.GetMetric("otelcol_processor_cost_meter_" + name)
	if err != nil {
		return 0, false
	}
	sum, ok := m.Data.(metricdata.Sum[N])
	require.True(t, ok, "%s is a %T", name, m.Data)
	for _, dp := range sum.DataPoints {
		if v, _ := dp.Attributes.Value("variant"); v.AsString() == variant {
			return dp.Value, true
		}
	}
	return 0, false
}

// counter is sumOf for a counter that must be present.
func counter[N int64 | float64](t *testing.T, tel *componenttest.Telemetry, name, variant string) N {
	t.Helper()
	v, ok := sumOf[N](t, tel, name, variant)
	require.True(t, ok, "no %s datapoint for variant %s", name, variant)
	return v
}

func shutdownTelemetry(t *testing.T) *componenttest.Telemetry {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	return tel
}

func attributeKey(k string) attribute.Key { return attribute.Key(k) }

func componentID(variant string) component.ID { return component.NewIDWithName(metadata.Type, variant) }
