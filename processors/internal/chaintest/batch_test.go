package chaintest

import (
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/contract/datapoints"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processrollup"
)

// procID tells the processes of one scrape apart. Not the start time:
// process_rollup restarts the series of a process that leaves a rollup.
type procID struct {
	key processmetrics.Key
}

// batch is one scrape's resources, indexed for the checks.
type batch struct {
	procs      map[procID]pmetric.ResourceMetrics
	aggregates []pmetric.ResourceMetrics
	datapoints int
}

func indexBatch(md pmetric.Metrics) batch {
	b := batch{procs: map[procID]pmetric.ResourceMetrics{}, datapoints: md.DataPointCount()}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		if r, ok := processmetrics.Read(rm); ok {
			b.procs[procID{r.Key}] = rm
		} else if isAggregate(rm) {
			b.aggregates = append(b.aggregates, rm)
		}
	}
	return b
}

// critical returns the batch's processes that match the rules, with the rule
// each matches.
func (b batch) critical(m *criticalrules.Matcher) map[procID]string {
	out := map[procID]string{}
	for id, rm := range b.procs {
		if rule, ok := m.Match(rm.Resource().Attributes()); ok {
			out[id] = rule
		}
	}
	return out
}

// rolledUp sums the aggregates' phoenix.rollup.process.count.
func (b batch) rolledUp() int {
	n := 0
	for _, rm := range b.aggregates {
		n += int(processCount(rm))
	}
	return n
}

// processCount returns an aggregate's phoenix.rollup.process.count, or -1
// when it has none.
func processCount(rm pmetric.ResourceMetrics) int64 {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			if m := ms.At(j); m.Name() == processrollup.MetricProcessCount && m.Type() == pmetric.MetricTypeGauge && m.Gauge().DataPoints().Len() == 1 {
				return m.Gauge().DataPoints().At(0).IntValue()
			}
		}
	}
	return -1
}

// phoenixAttributes lists the attribute keys in the phoenix.* namespace found
// on any resource or datapoint of md: Phoenix's internal markers, which must
// never leave the chain.
func phoenixAttributes(md pmetric.Metrics) []string {
	var found []string
	check := func(attrs pcommon.Map) {
		for k := range attrs.All() {
			if strings.HasPrefix(k, "phoenix.") {
				found = append(found, k)
			}
		}
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		check(rms.At(i).Resource().Attributes())
		sms := rms.At(i).ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				datapoints.ForEachAttributes(ms.At(k), check)
			}
		}
	}
	return found
}
