package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"hash/maphash"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// seriesHasher computes 64-bit series identities: resource attributes, scope
// name, metric name and datapoint attributes. Attribute order never matters.
// Each level is hashed once and folded into the next, so a resource's
// attributes are hashed once however many datapoints it has.
type seriesHasher struct {
	seed maphash.Seed
}

func newSeriesHasher() seriesHasher { return seriesHasher{seed: maphash.MakeSeed()} }

// Type tags keep values of different types apart ("1" and 1 are different
// series, as they are on the wire).
const (
	tagEmpty uint64 = iota + 0x51ed270b
	tagStr
	tagInt
	tagDouble
	tagTrue
	tagFalse
	tagBytes
	tagSlice
	tagMap
)

// appendResource appends the identity of every datapoint of rm to ids, and
// returns the hash of the resource's attributes.
func (h seriesHasher) appendResource(ids []uint64, rm pmetric.ResourceMetrics) (_ []uint64, resource uint64) {
	w := batchWalk{ids: ids}
	resource = h.walk(&w, rm)
	return w.ids, resource
}

// walk appends the identity of every datapoint of rm to w.ids and reads the
// fidelity quantities on the way (see batchWalk), so a batch is read once.
// It returns the hash of the resource's attributes.
func (h seriesHasher) walk(w *batchWalk, rm pmetric.ResourceMetrics) (resource uint64) {
	w.res = resourceFigures{}
	resource = h.attributes(rm.Resource().Attributes())
	sms := rm.ScopeMetrics()
	for i := 0; i < sms.Len(); i++ {
		sm := sms.At(i)
		scope := combine(resource, h.str(sm.Scope().Name()))
		ms := sm.Metrics()
		for j := 0; j < ms.Len(); j++ {
			m := ms.At(j)
			metric := combine(scope, h.str(m.Name()))
			switch m.Type() {
			case pmetric.MetricTypeGauge:
				if q := quantityOf(m.Name()); q != qNone {
					h.appendNumbers(w, metric, m.Gauge().DataPoints(), q, false)
				} else {
					w.ids = appendPoints(h, w.ids, metric, m.Gauge().DataPoints())
				}
			case pmetric.MetricTypeSum:
				if q := quantityOf(m.Name()); q != qNone {
					h.appendNumbers(w, metric, m.Sum().DataPoints(), q, true)
				} else {
					w.ids = appendPoints(h, w.ids, metric, m.Sum().DataPoints())
				}
			case pmetric.MetricTypeHistogram:
				w.ids = appendPoints(h, w.ids, metric, m.Histogram().DataPoints())
			case pmetric.MetricTypeExponentialHistogram:
				w.ids = appendPoints(h, w.ids, metric, m.ExponentialHistogram().DataPoints())
			case pmetric.MetricTypeSummary:
				w.ids = appendPoints(h, w.ids, metric, m.Summary().DataPoints())
			}
		}
	}
	return resource
}

// appendNumbers appends the identities of a fidelity metric's points and
// reads their values: counters (cumulative sums) become counterPoints, the
// rest add to the resource's figures.
func (h seriesHasher) appendNumbers(w *batchWalk, metric uint64, points pmetric.NumberDataPointSlice, q quantity, sum bool) {
	r := &w.res
	for i := 0; i < points.Len(); i++ {
		dp := points.At(i)
		w.ids = append(w.ids, combine(metric, h.attributes(dp.Attributes())))
		v := processmetrics.NumberValue(dp)
		if ts := dp.Timestamp(); ts > r.time {
			r.time = ts
		}
		switch q {
		case qMemory:
			r.rss += int64(v)
			continue
		case qRollupCount:
			r.rollup = true
			r.rollupCount += int64(v)
			continue
		case qCPU:
			r.cpu += v
			r.hasCPU = true
		case qNetwork:
			r.hasNetwork = true
		}
		if !sum {
			continue
		}
		if r.start == 0 {
			r.start = dp.StartTimestamp()
		}
		w.counters = append(w.counters, counterPoint{pos: int32(len(w.ids) - 1), q: q, start: dp.StartTimestamp(), value: v})
	}
}

type point interface{ Attributes() pcommon.Map }

type pointSlice[P point] interface {
	Len() int
	At(int) P
}

func appendPoints[S pointSlice[P], P point](h seriesHasher, ids []uint64, metric uint64, points S) []uint64 {
	for i := 0; i < points.Len(); i++ {
		ids = append(ids, combine(metric, h.attributes(points.At(i).Attributes())))
	}
	return ids
}

// attributes hashes a map order-independently: the sum of its entries'
// hashes, each of which is well mixed. String values, nearly all of them,
// are hashed together with their key in one call.
func (h seriesHasher) attributes(m pcommon.Map) uint64 {
	var sum uint64
	for k, v := range m.All() {
		if v.Type() == pcommon.ValueTypeStr {
			sum += maphash.Comparable(h.seed, [2]string{k, v.Str()})
		} else {
			sum += combine(h.str(k), h.value(v))
		}
	}
	return sum
}

func (h seriesHasher) value(v pcommon.Value) uint64 {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return combine(tagStr, h.str(v.Str()))
	case pcommon.ValueTypeInt:
		return combine(tagInt, uint64(v.Int()))
	case pcommon.ValueTypeDouble:
		return combine(tagDouble, math.Float64bits(v.Double()))
	case pcommon.ValueTypeBool:
		if v.Bool() {
			return tagTrue
		}
		return tagFalse
	case pcommon.ValueTypeBytes:
		return combine(tagBytes, maphash.Bytes(h.seed, v.Bytes().AsRaw()))
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		acc := tagSlice
		for i := 0; i < s.Len(); i++ {
			acc = combine(acc, h.value(s.At(i)))
		}
		return acc
	case pcommon.ValueTypeMap:
		return combine(tagMap, h.attributes(v.Map()))
	default:
		return tagEmpty
	}
}

func (h seriesHasher) str(s string) uint64 { return maphash.String(h.seed, s) }

// combine folds b into a, order-dependently.
func combine(a, b uint64) uint64 { return mix(a*0x9e3779b97f4a7c15 + b) }

// mix is MurmurHash3's 64-bit finalizer: a bijection that spreads every input
// bit over the output.
func mix(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}
