package processmetrics

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func TestAppendToThenRead(t *testing.T) {
	start := pcommon.NewTimestampFromTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ts := pcommon.NewTimestampFromTime(time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC))
	p := Process{PID: 42, ParentPID: 1, ExecutableName: "postgres", CommandLine: "postgres -D /data", Owner: "postgres",
		Start: start, CPUUser: 1.5, CPUSystem: 0.5, CPUWait: 0.25, MemoryRSS: 1 << 20, MemoryVirtual: 4 << 20, DiskRead: 10, DiskWrite: 20}
	md := pmetric.NewMetrics()
	rm := p.AppendTo(md.ResourceMetrics(), ts)
	assert.Equal(t, SchemaURL, rm.SchemaUrl())
	assert.Equal(t, ScopeName, rm.ScopeMetrics().At(0).Scope().Name())

	r, ok := Read(rm)
	require.True(t, ok)
	assert.Equal(t, Key{PID: 42}, r.Key)
	assert.Equal(t, start, r.Start)
	assert.Equal(t, ts, r.Time)
	assert.InDelta(t, 2.25, r.CPUSeconds, 1e-9, "all CPU states summed")
	assert.True(t, r.HasCPU)
	assert.Equal(t, int64(1<<20), r.MemoryRSS)
	assert.True(t, r.HasMemory)
	assert.Equal(t, 7, r.Series, "3 cpu states, 2 disk directions, rss, virtual")

	names := map[string]bool{}
	ms := rm.ScopeMetrics().At(0).Metrics()
	for i := 0; i < ms.Len(); i++ {
		names[ms.At(i).Name()] = true
		if ms.At(i).Name() == MetricCPUTime {
			assert.True(t, ms.At(i).Sum().IsMonotonic())
			v, _ := ms.At(i).Sum().DataPoints().At(0).Attributes().Get(AttrState)
			assert.Equal(t, "user", v.Str())
		}
	}
	assert.Equal(t, map[string]bool{MetricCPUTime: true, MetricDiskIO: true, MetricMemoryUsage: true, MetricMemoryVirtual: true}, names)
}

func TestNewerSemanticConventionsAndMissingDiskIO(t *testing.T) {
	p := Process{PID: 7, CPUUser: 1, CPUModeAttr: true, NoDiskIO: true}
	md := pmetric.NewMetrics()
	rm := p.AppendTo(md.ResourceMetrics(), 1)
	cpu := rm.ScopeMetrics().At(0).Metrics().At(0)
	_, hasMode := cpu.Sum().DataPoints().At(0).Attributes().Get(AttrCPUMode)
	assert.True(t, hasMode)
	r, ok := Read(rm)
	require.True(t, ok)
	assert.Equal(t, 5, r.Series)
	assert.InDelta(t, 1, r.CPUSeconds, 1e-9)
}

func TestPIDAndHostIdentity(t *testing.T) {
	res := pcommon.NewResource()
	assert.False(t, IsProcess(res), "no process.pid: not a process")
	res.Attributes().PutStr(AttrPID, "123")
	pid, ok := PID(res)
	assert.True(t, ok)
	assert.Equal(t, int64(123), pid)
	res.Attributes().PutStr(AttrPID, "abc")
	_, ok = PID(res)
	assert.False(t, ok)
	res.Attributes().PutDouble(AttrPID, 1.5)
	_, ok = PID(res)
	assert.False(t, ok)

	rm := pmetric.NewResourceMetrics()
	rm.Resource().Attributes().PutInt(AttrPID, 9)
	rm.Resource().Attributes().PutStr(AttrHostName, "web-1")
	r, ok := Read(rm)
	require.True(t, ok)
	assert.Equal(t, Key{Host: "web-1", PID: 9}, r.Key)
	assert.False(t, r.HasCPU)
}

func TestReadCountsEveryPointType(t *testing.T) {
	rm := pmetric.NewResourceMetrics()
	rm.Resource().Attributes().PutInt(AttrPID, 1)
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	ms.AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)
	ms.AppendEmpty().SetEmptyHistogram().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptyExponentialHistogram().DataPoints().AppendEmpty()
	ms.AppendEmpty().SetEmptySummary().DataPoints().AppendEmpty()
	r, ok := Read(rm)
	require.True(t, ok)
	assert.Equal(t, 4, r.Series)
}

func TestStripMarkers(t *testing.T) {
	res := pcommon.NewResource()
	res.Attributes().PutStr(MarkerCriticalRule, "db")
	res.Attributes().PutBool(MarkerRollup, true)
	res.Attributes().PutInt(AttrPID, 1)
	StripMarkers(res)
	assert.Equal(t, 1, res.Attributes().Len())
}
