package processrollup

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// kept returns the output's resource of process pid, which must be there.
func keptProcess(t *testing.T, md pmetric.Metrics, pid int64) pmetric.ResourceMetrics {
	t.Helper()
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if got, ok := processmetrics.PID(rms.At(i).Resource()); ok && got == pid {
			return rms.At(i)
		}
	}
	require.Failf(t, "process not exported", "pid %d", pid)
	return pmetric.ResourceMetrics{}
}

// A process kept, rolled up, then kept again: the rollup counts its activity
// up to the scrape it leaves at, and its own series restarts there from 0, so
// a backend that remembers the series across the gap counts nothing twice.
func TestALeavingProcessRestartsItsSeries(t *testing.T) {
	p, clock := newRollup(t, nil)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
	ts := func(i int) pcommon.Timestamp { return pcommon.NewTimestampFromTime(at(i)) }
	born := pcommon.NewTimestampFromTime(t0.Add(-time.Hour))
	steps := []struct {
		cpu          float64
		disk         int64
		member       bool
		wantCPU      float64 // exported, when kept
		wantDisk     int64
		wantStart    pcommon.Timestamp
		wantRolledUp float64 // the group's CPU after the scrape
	}{
		{cpu: 10, disk: 100, wantCPU: 10, wantDisk: 100, wantStart: born},                 // kept: as scraped
		{cpu: 14, disk: 140, member: true, wantRolledUp: 4},                               // rolled up: 10→14
		{cpu: 20, disk: 200, member: true, wantRolledUp: 10},                              // 14→20
		{cpu: 25, disk: 250, wantCPU: 0, wantDisk: 0, wantStart: ts(3), wantRolledUp: 15}, // leaves: 20→25 is the group's
		{cpu: 27, disk: 260, wantCPU: 2, wantDisk: 10, wantStart: ts(3), wantRolledUp: 15},
		{cpu: 30, disk: 300, member: true, wantRolledUp: 18},                              // back in: 27→30
		{cpu: 40, disk: 400, wantCPU: 0, wantDisk: 0, wantStart: ts(6), wantRolledUp: 28}, // leaves again
		{cpu: 41, disk: 410, wantCPU: 1, wantDisk: 10, wantStart: ts(6), wantRolledUp: 28},
	}
	// A second, always-rolled-up process keeps the group alive.
	for i, s := range steps {
		proc := member(1, "h", s.cpu, s.disk)
		if !s.member {
			proc = proc.kept()
		}
		out := consume(t, p, clock, at(i), scrape(at(i), proc, member(2, "h", 1, 0)))
		if i > 0 {
			assert.InDelta(t, s.wantRolledUp, cpuUser(t, rollups(out)["host=h"]), 1e-9, "scrape %d: rolled up", i)
		}
		if s.member {
			continue
		}
		rm := keptProcess(t, out, 1)
		cpu := point(t, rm, processmetrics.MetricCPUTime, processmetrics.AttrState, "user")
		disk := point(t, rm, processmetrics.MetricDiskIO, processmetrics.AttrDirection, "read")
		assert.InDelta(t, s.wantCPU, cpu.DoubleValue(), 1e-9, "scrape %d: exported CPU", i)
		assert.Equal(t, s.wantDisk, disk.IntValue(), "scrape %d: exported disk", i)
		assert.Equal(t, s.wantStart, cpu.StartTimestamp(), "scrape %d: CPU start", i)
		assert.Equal(t, s.wantStart, disk.StartTimestamp(), "scrape %d: disk start", i)
	}
}

// A counter that goes down while its series is rebased is a reset: it is
// exported as it is and counts from 0 from then on, never below 0.
func TestARebasedCounterResetIsExportedAsItIs(t *testing.T) {
	p, clock := newRollup(t, nil)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * 10 * time.Second) }
	consume(t, p, clock, at(0), scrape(at(0), member(1, "h", 10, 0), member(2, "h", 1, 0)))
	consume(t, p, clock, at(1), scrape(at(1), member(1, "h", 20, 0).kept(), member(2, "h", 1, 0)))
	out := consume(t, p, clock, at(2), scrape(at(2), member(1, "h", 3, 0).kept(), member(2, "h", 1, 0)))
	assert.InDelta(t, 3, cpuUser(t, keptProcess(t, out, 1)), 1e-9)
	out = consume(t, p, clock, at(3), scrape(at(3), member(1, "h", 5, 0).kept(), member(2, "h", 1, 0)))
	assert.InDelta(t, 5, cpuUser(t, keptProcess(t, out, 1)), 1e-9)
}
