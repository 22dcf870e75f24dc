package processmetrics // import "github.com/phoenix/platform/processors/contract/processmetrics"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Process is one process as the host_metrics process scraper reports it at one
// scrape. Tests, benchmarks and the process_sim receiver build their data with
// it, so synthetic populations have exactly the real scraper's shape.
type Process struct {
	PID            int64
	ParentPID      int64
	ExecutableName string
	ExecutablePath string
	Command        string
	CommandLine    string
	Owner          string
	// Start is the process creation time, the start timestamp of its points.
	Start pcommon.Timestamp

	// Cumulative CPU seconds per state.
	CPUUser, CPUSystem, CPUWait float64
	// MemoryRSS and MemoryVirtual are in bytes.
	MemoryRSS, MemoryVirtual int64
	// Cumulative disk bytes.
	DiskRead, DiskWrite int64
	// NoDiskIO leaves process.disk.io out, as the scraper does when it cannot
	// read a process's I/O counters.
	NoDiskIO bool
	// CPUModeAttr switches the CPU state attribute to the newer semantic
	// conventions' "cpu.mode" instead of "state".
	CPUModeAttr bool
}

// AppendTo appends p as one ResourceMetrics stamped at ts, in the scraper's
// layout: resource attributes, one scope, then cpu.time, disk.io, memory.usage
// and memory.virtual.
func (p *Process) AppendTo(rms pmetric.ResourceMetricsSlice, ts pcommon.Timestamp) pmetric.ResourceMetrics {
	rm := rms.AppendEmpty()
	rm.SetSchemaUrl(SchemaURL)
	attrs := rm.Resource().Attributes()
	attrs.EnsureCapacity(7)
	attrs.PutInt(AttrPID, p.PID)
	attrs.PutInt(AttrParentPID, p.ParentPID)
	attrs.PutStr(AttrExecutableName, p.ExecutableName)
	attrs.PutStr(AttrExecutablePath, p.ExecutablePath)
	attrs.PutStr(AttrCommand, p.Command)
	attrs.PutStr(AttrCommandLine, p.CommandLine)
	attrs.PutStr(AttrOwner, p.Owner)

	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(ScopeName)
	sm.Scope().SetVersion("0.1.0")
	ms := sm.Metrics()
	ms.EnsureCapacity(4)

	stateKey := AttrState
	if p.CPUModeAttr {
		stateKey = AttrCPUMode
	}
	cpu := newSum(ms, MetricCPUTime, "Total CPU seconds broken down by different states.", "s", true)
	p.doublePoint(cpu, ts, stateKey, "user", p.CPUUser)
	p.doublePoint(cpu, ts, stateKey, "system", p.CPUSystem)
	p.doublePoint(cpu, ts, stateKey, "wait", p.CPUWait)

	if !p.NoDiskIO {
		disk := newSum(ms, MetricDiskIO, "Disk bytes transferred.", "By", true)
		p.intPoint(disk, ts, AttrDirection, "read", p.DiskRead)
		p.intPoint(disk, ts, AttrDirection, "write", p.DiskWrite)
	}
	p.intPoint(newSum(ms, MetricMemoryUsage, "The amount of physical memory in use.", "By", false), ts, "", "", p.MemoryRSS)
	p.intPoint(newSum(ms, MetricMemoryVirtual, "Virtual memory size.", "By", false), ts, "", "", p.MemoryVirtual)
	return rm
}

func newSum(ms pmetric.MetricSlice, name, description, unit string, monotonic bool) pmetric.NumberDataPointSlice {
	m := ms.AppendEmpty()
	m.SetName(name)
	m.SetDescription(description)
	m.SetUnit(unit)
	sum := m.SetEmptySum()
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	sum.SetIsMonotonic(monotonic)
	return sum.DataPoints()
}

func (p *Process) doublePoint(dps pmetric.NumberDataPointSlice, ts pcommon.Timestamp, key, value string, v float64) {
	dp := dps.AppendEmpty()
	dp.Attributes().PutStr(key, value)
	dp.SetStartTimestamp(p.Start)
	dp.SetTimestamp(ts)
	dp.SetDoubleValue(v)
}

func (p *Process) intPoint(dps pmetric.NumberDataPointSlice, ts pcommon.Timestamp, key, value string, v int64) {
	dp := dps.AppendEmpty()
	if key != "" {
		dp.Attributes().PutStr(key, value)
	}
	dp.SetStartTimestamp(p.Start)
	dp.SetTimestamp(ts)
	dp.SetIntValue(v)
}
