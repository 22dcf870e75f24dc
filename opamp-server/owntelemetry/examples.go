package owntelemetry

import (
	"cmp"
	"fmt"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/servermetrics"
)

// Attributes of cost_meter's blind-spot examples kept in their sample name
// (apitypes.BlindSpotPeakMetric).
const (
	ExecutableNameAttribute = "process.executable.name"
	HostNameAttribute       = "host.name"
	ResourceAttribute       = "resource"
)

// example is one blind-spot data point, its sample name encoded.
type example struct {
	uid, variant, resource, name string
	value                        float64
	ts                           pcommon.Timestamp
	truncated                    bool
}

// blindSpotExample encodes a blind_spot_peak data point, or says why it is
// dropped.
func blindSpotExample(uid, variant string, dp pmetric.NumberDataPoint, value float64) (ex example, reason, detail string) {
	attr := func(k string) string {
		if v, ok := dp.Attributes().Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	resource := attr(ResourceAttribute)
	name, truncated, err := apitypes.BlindSpotSampleName(resource, attr(HostNameAttribute), attr(ExecutableNameAttribute))
	if err != nil {
		return example{}, servermetrics.ReasonInvalidSeries, err.Error()
	}
	return example{uid: uid, variant: variant, resource: resource, name: name, value: value,
		ts: dp.Timestamp(), truncated: truncated}, "", ""
}

// worstExamples keeps, per instance, variant and resource, the
// MaxBlindSpotExamplesPerExport distinct examples of highest value, in the
// order given otherwise; it drops the others.
func worstExamples(examples []example, drop func(uid, reason, detail string, n int)) []example {
	type group struct{ uid, variant, resource string }
	peak := map[string]float64{} // by instance, variant and sample name
	id := func(e example) string { return e.uid + "\x00" + e.variant + "\x00" + e.name }
	for _, e := range examples {
		if p, ok := peak[id(e)]; !ok || e.value > p {
			peak[id(e)] = e.value
		}
	}
	byGroup := map[group][]string{}
	seen := map[string]bool{}
	for _, e := range examples {
		if !seen[id(e)] {
			seen[id(e)] = true
			g := group{e.uid, e.variant, e.resource}
			byGroup[g] = append(byGroup[g], id(e))
		}
	}
	kept := map[string]bool{}
	for _, ids := range byGroup {
		slices.SortStableFunc(ids, func(a, b string) int { return cmp.Compare(peak[b], peak[a]) })
		for _, k := range ids[:min(len(ids), MaxBlindSpotExamplesPerExport)] {
			kept[k] = true
		}
	}
	out := examples[:0:0]
	for _, e := range examples {
		if kept[id(e)] {
			out = append(out, e)
			continue
		}
		drop(e.uid, servermetrics.ReasonTooManySeries, fmt.Sprintf("more than %d %s examples of one variant and resource in one export; the worst kept",
			MaxBlindSpotExamplesPerExport, apitypes.BlindSpotPeakMetric), 1)
	}
	return out
}
