package processmetrics // import "github.com/phoenix/platform/processors/contract/processmetrics"

import (
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// Key identifies a process within a collector's input: its host (empty when the
// resource has no host.name, the usual case for a local scraper) and its PID.
// A Key alone does not survive PID reuse; pair it with Reading.Start.
type Key struct {
	Host string
	PID  int64
}

// Reading is what Phoenix's processors need from one process resource, read in
// a single pass over its metrics.
type Reading struct {
	Key Key
	// Start is the process creation time: the start timestamp of its
	// cumulative points. Zero when the resource has none.
	Start pcommon.Timestamp
	// Time is the latest datapoint timestamp: when this process was scraped.
	Time pcommon.Timestamp
	// CPUSeconds is process.cpu.time summed over all states; HasCPU reports
	// whether the metric was present.
	CPUSeconds float64
	HasCPU     bool
	// MemoryRSS is process.memory.usage; HasMemory reports its presence.
	MemoryRSS int64
	HasMemory bool
	// Series counts the resource's datapoints: each one is a series.
	Series int
}

// PID returns the process.pid resource attribute. The scraper writes an int;
// a decimal string is accepted for data that went through a string-only hop.
func PID(res pcommon.Resource) (int64, bool) {
	v, ok := res.Attributes().Get(AttrPID)
	if !ok {
		return 0, false
	}
	return PIDValue(v)
}

// PIDValue interprets a process.pid attribute value, as PID does.
func PIDValue(v pcommon.Value) (int64, bool) {
	switch v.Type() {
	case pcommon.ValueTypeInt:
		return v.Int(), true
	case pcommon.ValueTypeStr:
		n, err := strconv.ParseInt(v.Str(), 10, 64)
		return n, err == nil
	default:
		return 0, false
	}
}

// IsProcess reports whether a resource describes a process. Resources that do
// not are passed through untouched by every Phoenix processor.
func IsProcess(res pcommon.Resource) bool {
	_, ok := PID(res)
	return ok
}

// Read extracts a Reading from one process resource. ok is false when the
// resource is not a process.
func Read(rm pmetric.ResourceMetrics) (r Reading, ok bool) {
	res := rm.Resource()
	pid, ok := PID(res)
	if !ok {
		return Reading{}, false
	}
	r.Key.PID = pid
	if h, found := res.Attributes().Get(AttrHostName); found {
		r.Key.Host = h.Str()
	}
	ReadPoints(rm, &r)
	return r, true
}

// ReadPoints is Read's pass over a process resource's metrics: it fills in
// r's Start, Time, CPU, memory and Series, for a caller that read the
// resource's identity itself.
func ReadPoints(rm pmetric.ResourceMetrics, r *Reading) {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			readMetric(ms.At(j), r)
		}
	}
}

func readMetric(m pmetric.Metric, r *Reading) {
	var dps pmetric.NumberDataPointSlice
	switch m.Type() {
	case pmetric.MetricTypeSum:
		dps = m.Sum().DataPoints()
	case pmetric.MetricTypeGauge:
		dps = m.Gauge().DataPoints()
	default:
		r.Series += DataPointCount(m)
		return
	}
	r.Series += dps.Len()
	name := m.Name()
	for k := 0; k < dps.Len(); k++ {
		dp := dps.At(k)
		if ts := dp.Timestamp(); ts > r.Time {
			r.Time = ts
		}
		if r.Start == 0 && m.Type() == pmetric.MetricTypeSum {
			r.Start = dp.StartTimestamp()
		}
		switch name {
		case MetricCPUTime:
			r.CPUSeconds += NumberValue(dp)
			r.HasCPU = true
		case MetricMemoryUsage:
			r.MemoryRSS += int64(NumberValue(dp))
			r.HasMemory = true
		}
	}
}

// NumberValue returns a number datapoint's value as a float64, whichever its
// value type.
func NumberValue(dp pmetric.NumberDataPoint) float64 {
	if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
		return float64(dp.IntValue())
	}
	return dp.DoubleValue()
}

// DataPointCount counts the points of a metric of any type.
func DataPointCount(m pmetric.Metric) int {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return m.Gauge().DataPoints().Len()
	case pmetric.MetricTypeSum:
		return m.Sum().DataPoints().Len()
	case pmetric.MetricTypeHistogram:
		return m.Histogram().DataPoints().Len()
	case pmetric.MetricTypeExponentialHistogram:
		return m.ExponentialHistogram().DataPoints().Len()
	case pmetric.MetricTypeSummary:
		return m.Summary().DataPoints().Len()
	default:
		return 0
	}
}

// StringAttr returns a string attribute's value, or "" when it is absent.
func StringAttr(attrs pcommon.Map, key string) string {
	if v, ok := attrs.Get(key); ok {
		return v.Str()
	}
	return ""
}

// StripMarkers removes Phoenix's marker attributes from a resource.
func StripMarkers(res pcommon.Resource) {
	attrs := res.Attributes()
	for _, k := range Markers {
		attrs.Remove(k)
	}
}
