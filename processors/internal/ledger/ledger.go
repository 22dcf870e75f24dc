// Package ledger is the conservation ledger Phoenix's tests check
// process_rollup and the whole chain with: it turns successive snapshots of
// one stream's cumulative monotonic series into increments the way a backend
// reads them, which remembers a series across gaps (process_rollup's README
// defines conservation by it):
//
//   - a series seen before, in any earlier snapshot, with the same start
//     time and a value not below its last one adds cur − last, however many
//     snapshots ago that was: a process kept, rolled up, then kept again is
//     one series with a gap;
//   - any other series (new, restarted under a new start time, or reset)
//     adds its full value when it started at or after the previous
//     snapshot's time (the process was born, or its series restarted, in
//     between), and nothing otherwise (its past was never part of this
//     stream).
//
// A process's series is named by host, PID, metric and datapoint attributes,
// not by its start time, as a backend names it. Increments are totalled per
// Bucket: host, metric name and datapoint attributes. A stream conserves
// totals when, bucket by bucket, its output's increments equal its input's.
package ledger // import "github.com/phoenix/platform/processors/internal/ledger"

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/datapoints"
	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// Ledger follows one stream. The zero value is ready.
type Ledger struct {
	last     Snapshot // every series' latest point, by SeriesID without Start
	prevTime pcommon.Timestamp
}

// SeriesID names a cumulative series within a snapshot: a process's (PID and
// start time) or a rollup's (its resource attributes, canonical), plus its
// bucket. Across snapshots the ledger follows a process's series by PID and
// bucket alone.
type SeriesID struct {
	PID    int64
	Start  pcommon.Timestamp
	Rollup string
	Bucket Bucket
}

// Bucket is what conservation is checked over.
type Bucket struct{ Host, Metric, Attrs string }

// Point is a series' start time and value in one snapshot.
type Point struct {
	Start pcommon.Timestamp
	Value float64
}

// Snapshot is one batch's cumulative monotonic points.
type Snapshot map[SeriesID]Point

// Increments reads the next snapshot, taken at now, and returns its total
// increment per bucket.
func (l *Ledger) Increments(snapshot Snapshot, now pcommon.Timestamp) map[Bucket]float64 {
	if l.last == nil {
		l.last = Snapshot{}
	}
	inc := map[Bucket]float64{}
	for id, p := range snapshot {
		key := id
		key.Start = 0
		last, ok := l.last[key]
		l.last[key] = p
		switch {
		case ok && last.Start == p.Start && p.Value >= last.Value:
			inc[id.Bucket] += p.Value - last.Value
		case l.prevTime != 0 && p.Start >= l.prevTime:
			inc[id.Bucket] += p.Value
		}
	}
	l.prevTime = now
	return inc
}

// Counters collects the cumulative monotonic points of a batch: its
// processes' and its rollups' (isRollup tells them; IsAggregate is the usual
// test), or only its rollups' when onlyRollups is set.
func Counters(md pmetric.Metrics, isRollup func(pmetric.ResourceMetrics) bool, onlyRollups bool) Snapshot {
	rms := md.ResourceMetrics()
	out := make(Snapshot, 5*rms.Len())
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		host := processmetrics.StringAttr(attrs, processmetrics.AttrHostName)
		pid, isProcess := processmetrics.PID(rm.Resource())
		var rollup string
		switch {
		case !isProcess && isRollup(rm):
			rollup = datapoints.Key(attrs)
		case !isProcess || onlyRollups:
			continue
		}
		ForEachCounter(rm, func(name string, dp pmetric.NumberDataPoint) {
			id := SeriesID{Rollup: rollup, Bucket: Bucket{host, name, datapoints.Key(dp.Attributes())}}
			if rollup == "" {
				id.PID, id.Start = pid, dp.StartTimestamp()
			}
			out[id] = Point{dp.StartTimestamp(), processmetrics.NumberValue(dp)}
		})
	}
	return out
}

// ForEachCounter visits the cumulative monotonic points of a resource.
func ForEachCounter(rm pmetric.ResourceMetrics, fn func(name string, dp pmetric.NumberDataPoint)) {
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		ms := sms.At(i).Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			if m.Type() != pmetric.MetricTypeSum || !m.Sum().IsMonotonic() ||
				m.Sum().AggregationTemporality() != pmetric.AggregationTemporalityCumulative {
				continue
			}
			dps := m.Sum().DataPoints()
			for k := 0; k < dps.Len(); k++ {
				fn(m.Name(), dps.At(k))
			}
		}
	}
}

// IsAggregate reports whether a resource is one of process_rollup's groups
// as an exporter sees it: no process.pid, but a process.executable.name (the
// same test test/filesummary applies to exported files).
func IsAggregate(rm pmetric.ResourceMetrics) bool {
	if processmetrics.IsProcess(rm.Resource()) {
		return false
	}
	_, ok := rm.Resource().Attributes().Get(processmetrics.AttrExecutableName)
	return ok
}
