package processrollup

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testProc is one process in a hand-built scrape.
type testProc struct {
	processmetrics.Process
	host     string
	member   bool
	critical bool
}

// member returns a rollup member started an hour before t0 with cpu user
// seconds and disk read bytes as given.
func member(pid int64, host string, cpu float64, disk int64) testProc {
	return testProc{Process: processmetrics.Process{
		PID: pid, ExecutableName: "worker", Owner: "app", Start: pcommon.NewTimestampFromTime(t0.Add(-time.Hour)),
		CPUUser: cpu, DiskRead: disk, MemoryRSS: 1 << 20, MemoryVirtual: 4 << 20,
	}, host: host, member: true}
}

func (tp testProc) kept() testProc { tp.member = false; return tp }
func (tp testProc) bornAt(t time.Time) testProc {
	tp.Start = pcommon.NewTimestampFromTime(t)
	return tp
}

// scrape renders processes at t in the scraper's shape, with host.name and
// markers set.
func scrape(t time.Time, procs ...testProc) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for i := range procs {
		tp := &procs[i]
		rm := tp.AppendTo(md.ResourceMetrics(), pcommon.NewTimestampFromTime(t))
		attrs := rm.Resource().Attributes()
		if tp.host != "" {
			attrs.PutStr(processmetrics.AttrHostName, tp.host)
		}
		if tp.member {
			attrs.PutBool(processmetrics.MarkerRollup, true)
		}
		if tp.critical {
			attrs.PutStr(processmetrics.MarkerCriticalRule, "databases")
		}
	}
	return md
}

// newRollup returns a processor on a manual clock starting at t0.
func newRollup(t *testing.T, cfg *Config) (*rollupProcessor, *time.Time) {
	t.Helper()
	if cfg == nil {
		cfg = createDefaultConfig().(*Config)
	}
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	clock := t0
	p.now = func() time.Time { return clock }
	t.Cleanup(func() { require.NoError(t, p.shutdown(t.Context())) })
	return p, &clock
}

// consume runs one batch at the given clock.
func consume(t *testing.T, p *rollupProcessor, clock *time.Time, at time.Time, md pmetric.Metrics) pmetric.Metrics {
	t.Helper()
	*clock = at
	out, err := p.processMetrics(t.Context(), md)
	require.NoError(t, err)
	return out
}

// rollups returns the batch's rollup resources keyed by group name
// ("host=..." or "_other"), recomputed from their attributes.
func rollups(md pmetric.Metrics) map[string]pmetric.ResourceMetrics {
	out := map[string]pmetric.ResourceMetrics{}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		if !isRollup(rm) {
			continue
		}
		name := OtherExecutable
		if h, ok := rm.Resource().Attributes().Get(processmetrics.AttrHostName); ok {
			name = "host=" + h.Str()
		}
		out[name] = rm
	}
	return out
}

// point returns the first datapoint of a rollup's metric whose attributes
// include key=value (any point when key is empty).
func point(t *testing.T, rm pmetric.ResourceMetrics, metric, key, value string) pmetric.NumberDataPoint {
	t.Helper()
	ms := rm.ScopeMetrics().At(0).Metrics()
	for j := 0; j < ms.Len(); j++ {
		m := ms.At(j)
		if m.Name() != metric {
			continue
		}
		var dps pmetric.NumberDataPointSlice
		if m.Type() == pmetric.MetricTypeGauge {
			dps = m.Gauge().DataPoints()
		} else {
			dps = m.Sum().DataPoints()
		}
		for k := 0; k < dps.Len(); k++ {
			if v, ok := dps.At(k).Attributes().Get(key); key == "" || (ok && v.Str() == value) {
				return dps.At(k)
			}
		}
	}
	require.Failf(t, "point not found", "%s{%s=%s}", metric, key, value)
	return pmetric.NumberDataPoint{}
}

func cpuUser(t *testing.T, rm pmetric.ResourceMetrics) float64 {
	return point(t, rm, processmetrics.MetricCPUTime, processmetrics.AttrState, "user").DoubleValue()
}

func count(t *testing.T, rm pmetric.ResourceMetrics) int64 {
	return point(t, rm, MetricProcessCount, "", "").IntValue()
}
