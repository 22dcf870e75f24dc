package processrollup // import "github.com/phoenix/platform/processors/processrollup"

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

// aggregation says how a metric's points combine across a group's members.
type aggregation uint8

const (
	// unsupported metrics (histograms, summaries, delta sums) are not
	// aggregated: members' points are skipped and counted.
	unsupported aggregation = iota
	// counter: cumulative monotonic sums, folded into the group's own
	// monotonic accumulator.
	counter
	// sum: cumulative non-monotonic sums, summed over the current members.
	sum
	// gauge: gauges, summed over the current members.
	gauge
)

func aggregationOf(m pmetric.Metric) aggregation {
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		return gauge
	case pmetric.MetricTypeSum:
		s := m.Sum()
		if s.AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
			return unsupported
		}
		if s.IsMonotonic() {
			return counter
		}
		return sum
	default:
		return unsupported
	}
}

// maxSeries bounds the distinct (metric, datapoint attributes) identities the
// processor interns. The scraper's metrics have a handful; the bound only
// matters for hostile input, whose extra points are skipped and counted.
const maxSeries = 1024

// series is one metric name with one datapoint attribute set, interned
// processor-wide so that processes and groups refer to it by a small id.
type series struct {
	id     int32
	metric *metricInfo
	attrs  pcommon.Map // owned copy
	// strs holds attrs when they are all strings (the scraper's case), for a
	// comparison cheaper than pcommon.Map.Equal on the hot path.
	strs []strAttr
}

type strAttr struct{ key, value string }

// matches reports whether a datapoint's attributes are s's.
func (s *series) matches(attrs pcommon.Map) bool {
	if attrs.Len() != s.attrs.Len() {
		return false
	}
	if len(s.strs) != s.attrs.Len() {
		return s.attrs.Equal(attrs)
	}
	for _, kv := range s.strs {
		v, ok := attrs.Get(kv.key)
		if !ok || v.Type() != pcommon.ValueTypeStr || v.Str() != kv.value {
			return false
		}
	}
	return true
}

// metricInfo is what a group's output needs to describe a metric, taken from
// the first point seen under its name.
type metricInfo struct {
	name, description, unit string
	agg                     aggregation
	variants                []*series // one per datapoint attribute set
}

// seriesTable interns series. It is only used under the processor's lock.
type seriesTable struct {
	byName map[string]*metricInfo
	all    []*series
	// byPosition remembers the metric last seen at each position of a scope,
	// since every process of a scrape lists its metrics in the same order;
	// it saves a map lookup per metric.
	byPosition []*metricInfo
}

func newSeriesTable() *seriesTable {
	return &seriesTable{byName: make(map[string]*metricInfo)}
}

// metric returns the interned description of m, the j-th metric of its scope,
// or nil when m's name was first seen with a different aggregation (such
// points are not aggregated).
func (t *seriesTable) metric(m pmetric.Metric, j int, agg aggregation) *metricInfo {
	name := m.Name()
	var mi *metricInfo
	if j < len(t.byPosition) && t.byPosition[j] != nil && t.byPosition[j].name == name {
		mi = t.byPosition[j]
	} else {
		mi = t.byName[name]
		if mi == nil {
			mi = &metricInfo{
				name:        strings.Clone(name),
				description: strings.Clone(m.Description()),
				unit:        strings.Clone(m.Unit()),
				agg:         agg,
			}
			t.byName[mi.name] = mi
		}
		for len(t.byPosition) <= j {
			t.byPosition = append(t.byPosition, nil)
		}
		t.byPosition[j] = mi
	}
	if mi.agg != agg {
		return nil
	}
	return mi
}

// series returns the interned series of mi with the attributes of a metric's
// k-th datapoint, or nil when maxSeries identities already exist.
func (t *seriesTable) series(mi *metricInfo, k int, attrs pcommon.Map) *series {
	// Points come in the same order in every process: try the k-th first.
	if k < len(mi.variants) && mi.variants[k].matches(attrs) {
		return mi.variants[k]
	}
	for _, s := range mi.variants {
		if s.matches(attrs) {
			return s
		}
	}
	if len(t.all) >= maxSeries {
		return nil
	}
	s := &series{id: int32(len(t.all)), metric: mi, attrs: pcommon.NewMap()}
	attrs.CopyTo(s.attrs)
	for k, v := range s.attrs.All() {
		if v.Type() != pcommon.ValueTypeStr {
			s.strs = nil
			break
		}
		s.strs = append(s.strs, strAttr{k, v.Str()})
	}
	mi.variants = append(mi.variants, s)
	t.all = append(t.all, s)
	return s
}
