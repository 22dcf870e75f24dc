package chaintest

import (
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/processmetrics"
)

// ledger turns successive snapshots of one stream's cumulative monotonic
// series into increments, the way process_rollup's README defines
// conservation (a backend reading a series' increments between consecutive
// points, and a series without a previous point as new from its start time):
//
//   - a process series present in the previous snapshot with the same start
//     time adds cur − prev;
//   - a rollup series adds cur minus its last emitted value, however many
//     snapshots ago (its accumulator only grows while it is emitted);
//   - any other series adds its full value when it started at or after the
//     previous snapshot's time (the process was born in between), and
//     nothing otherwise (its past was never part of this stream).
//
// Increments are totalled per bucket: host, metric name and datapoint
// attributes. The chain conserves totals when, bucket by bucket, its
// output's increments equal its input's.
type ledger struct {
	prev     map[seriesID]point // the previous snapshot
	rollups  map[seriesID]point // every rollup series' latest point
	prevTime pcommon.Timestamp
}

// seriesID names a cumulative series within a snapshot: a process's (PID and
// start time) or a rollup's (its resource attributes), plus its bucket.
type seriesID struct {
	pid    int64
	start  pcommon.Timestamp
	rollup string
	bucket bucket
}

// bucket is what conservation is checked over.
type bucket struct{ host, metric, attrs string }

type point struct {
	start pcommon.Timestamp
	value float64
}

// increments reads the next snapshot, taken at now, and returns its total
// increment per bucket.
func (l *ledger) increments(snapshot map[seriesID]point, now pcommon.Timestamp) map[bucket]float64 {
	if l.rollups == nil {
		l.rollups = map[seriesID]point{}
	}
	inc := map[bucket]float64{}
	for id, p := range snapshot {
		prev, ok := l.prev[id]
		if id.rollup != "" {
			prev, ok = l.rollups[id]
			l.rollups[id] = p
		}
		switch {
		case ok && prev.start == p.start:
			inc[id.bucket] += p.value - prev.value
		case l.prevTime != 0 && p.start >= l.prevTime:
			inc[id.bucket] += p.value
		}
	}
	l.prev, l.prevTime = snapshot, now
	return inc
}

// counterSnapshot collects the cumulative monotonic points of a batch: its
// processes' and its rollups' (resources that are not processes but carry
// process.executable.name, as process_rollup's groups do).
func counterSnapshot(md pmetric.Metrics) map[seriesID]point {
	rms := md.ResourceMetrics()
	out := make(map[seriesID]point, 5*rms.Len())
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		host := stringAttr(attrs, processmetrics.AttrHostName)
		pid, isProcess := processmetrics.PID(rm.Resource())
		var rollup string
		if !isProcess {
			if !isAggregate(rm) {
				continue
			}
			rollup = canonical(attrs)
		}
		forEachCounter(rm, func(name string, dp pmetric.NumberDataPoint) {
			id := seriesID{rollup: rollup, bucket: bucket{host, name, canonical(dp.Attributes())}}
			if isProcess {
				id.pid, id.start = pid, dp.StartTimestamp()
			}
			out[id] = point{dp.StartTimestamp(), processmetrics.NumberValue(dp)}
		})
	}
	return out
}

// rollupSnapshot collects the cumulative monotonic points of a batch's
// rollups only.
func rollupSnapshot(md pmetric.Metrics) map[seriesID]point {
	all := counterSnapshot(md)
	for id := range all {
		if id.rollup == "" {
			delete(all, id)
		}
	}
	return all
}

func forEachCounter(rm pmetric.ResourceMetrics, fn func(name string, dp pmetric.NumberDataPoint)) {
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

// isAggregate reports whether a resource is one of process_rollup's groups:
// no process.pid, but a process.executable.name (the same test
// pipelines/filesummary applies to exported files).
func isAggregate(rm pmetric.ResourceMetrics) bool {
	if processmetrics.IsProcess(rm.Resource()) {
		return false
	}
	_, ok := rm.Resource().Attributes().Get(processmetrics.AttrExecutableName)
	return ok
}

// canonical renders attributes in sorted order.
func canonical(attrs pcommon.Map) string {
	kv := make([]string, 0, attrs.Len())
	for k, v := range attrs.All() {
		kv = append(kv, k+"="+v.AsString())
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

func stringAttr(attrs pcommon.Map, key string) string {
	if v, ok := attrs.Get(key); ok {
		return v.Str()
	}
	return ""
}
