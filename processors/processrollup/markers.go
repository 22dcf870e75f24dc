package processrollup

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// markers is what a resource's attributes say to process_rollup.
type markers struct {
	host                           string
	critical, rollup, kept, marked bool
}

// readMarkers reads, in one pass, the host name and Phoenix's markers.
func readMarkers(attrs pcommon.Map) (m markers) {
	for k, v := range attrs.All() {
		switch k {
		case processmetrics.AttrHostName:
			m.host = v.Str()
		case processmetrics.MarkerCriticalRule:
			m.critical, m.marked = true, true
		case processmetrics.MarkerKept:
			m.kept, m.marked = true, true
		case processmetrics.MarkerRollup:
			m.marked = true
			m.rollup = (v.Type() == pcommon.ValueTypeBool && v.Bool()) || (v.Type() == pcommon.ValueTypeStr && v.Str() == "true")
		}
	}
	return m
}

// carriesKept reports whether some resource of the batch carries the kept
// marker: process_topk ranked the batch.
func carriesKept(rms pmetric.ResourceMetricsSlice) bool {
	for i := 0; i < rms.Len(); i++ {
		if _, ok := rms.At(i).Resource().Attributes().Get(processmetrics.MarkerKept); ok {
			return true
		}
	}
	return false
}
