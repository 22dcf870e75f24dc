package processrollup // import "github.com/phoenix/platform/processors/processrollup"

import (
	"encoding/binary"
	"math"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
)

const (
	// MetricProcessCount is the gauge every rollup resource carries: the
	// number of member processes folded into it in this batch.
	MetricProcessCount = "phoenix.rollup.process.count"
	// OtherExecutable is the rollup resource's process.executable.name unless
	// the processor groups by it.
	OtherExecutable = "_other"
)

// group is one rollup resource: its identity, its accumulators and what it
// gathered in the current batch.
type group struct {
	key  string
	name string // readable, for decision records
	host *hostState
	// base holds the attributes fixed by the key: host.name, the group_by
	// values and process.executable.name=_other.
	base pcommon.Map
	// attrs is the resource of the latest emission with members, re-emitted
	// when the group has none.
	attrs      pcommon.Map
	schemaURL  string
	bySeries   []*groupSeries // indexed by series id
	metrics    []*groupMetric // in creation order, for a stable output
	lastActive int64          // wall clock, unix nanoseconds
	evicted    bool

	// Per batch, valid while batch is the processor's current batch.
	batch   uint64
	members int
	time    pcommon.Timestamp
	// common are the first member's attributes outside the process.*
	// namespace, and whether every later member has the same value. Values
	// point into the batch, which outlives the emission.
	common []commonAttr
}

type commonAttr struct {
	key   string
	value pcommon.Value
	same  bool
}

type groupMetric struct {
	info   *metricInfo
	series []*groupSeries
}

// groupSeries is a group's value for one series: the accumulator of a
// counter, or the current batch's sum of a sum or gauge.
type groupSeries struct {
	series *series
	isInt  bool
	value  number
	// start is set when the series is first emitted and never changes.
	start pcommon.Timestamp
	// batch is the batch a sum's or gauge's value belongs to.
	batch uint64
}

func newGroup(key string, host *hostState, res pcommon.Resource, groupBy []string, groupByExecutable bool) *group {
	g := &group{key: key, host: host, base: pcommon.NewMap(), attrs: pcommon.NewMap()}
	var name strings.Builder
	if host.name != "" {
		g.base.PutStr(processmetrics.AttrHostName, host.name)
		name.WriteString("host=" + host.name)
	}
	attrs := res.Attributes()
	for _, k := range groupBy {
		v, ok := attrs.Get(k)
		if !ok {
			continue
		}
		v.CopyTo(g.base.PutEmpty(k))
		if name.Len() > 0 {
			name.WriteByte(',')
		}
		name.WriteString(k + "=" + v.AsString())
	}
	if !groupByExecutable {
		g.base.PutStr(processmetrics.AttrExecutableName, OtherExecutable)
	}
	g.name = name.String()
	if g.name == "" {
		g.name = OtherExecutable
	}
	return g
}

// appendGroupKey appends a group's key: the host name and each group_by
// value, length-prefixed and type-tagged so distinct groups never collide.
func appendGroupKey(buf []byte, host string, attrs pcommon.Map, groupBy []string) []byte {
	buf = appendString(buf, host)
	for _, k := range groupBy {
		v, ok := attrs.Get(k)
		if !ok {
			buf = append(buf, 0)
			continue
		}
		buf = append(buf, 1+byte(v.Type()))
		switch v.Type() {
		case pcommon.ValueTypeStr:
			buf = appendString(buf, v.Str())
		case pcommon.ValueTypeInt:
			buf = binary.AppendVarint(buf, v.Int())
		case pcommon.ValueTypeBool:
			buf = strconv.AppendBool(buf, v.Bool())
		case pcommon.ValueTypeDouble:
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v.Double()))
		default:
			buf = appendString(buf, v.AsString())
		}
	}
	return buf
}

func appendString(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

// begin readies the group's per-batch fields; it reports false when they
// were already ready for this batch.
func (g *group) begin(batch uint64) bool {
	if g.batch == batch {
		return false
	}
	g.batch, g.members, g.time = batch, 0, 0
	g.common = g.common[:0]
	return true
}

// addMember counts a member process of the current batch.
func (g *group) addMember(rm pmetric.ResourceMetrics, ts pcommon.Timestamp, groupBy []string) {
	g.members++
	g.observed(ts)
	attrs := rm.Resource().Attributes()
	if g.members == 1 {
		g.schemaURL = rm.SchemaUrl()
		for k, v := range attrs.All() {
			if isCommonCandidate(k, groupBy) {
				g.common = append(g.common, commonAttr{key: k, value: v, same: true})
			}
		}
		return
	}
	for i := range g.common {
		c := &g.common[i]
		if !c.same {
			continue
		}
		if v, ok := attrs.Get(c.key); !ok || !v.Equal(c.value) {
			c.same = false
		}
	}
}

// isCommonCandidate reports whether a member's resource attribute may be
// kept on the rollup resource when every member has the same value: host-level
// attributes, not the process's own (process.*), not Phoenix's markers and
// not those the key already sets.
func isCommonCandidate(k string, groupBy []string) bool {
	if strings.HasPrefix(k, "process.") || k == processmetrics.AttrHostName {
		return false
	}
	for _, m := range processmetrics.Markers {
		if k == m {
			return false
		}
	}
	for _, gb := range groupBy {
		if k == gb {
			return false
		}
	}
	return true
}

func (g *group) observed(ts pcommon.Timestamp) {
	if ts > g.time {
		g.time = ts
	}
}

// seriesFor returns the group's value for s, creating it with v's type.
func (g *group) seriesFor(s *series, v number) *groupSeries {
	if int(s.id) < len(g.bySeries) {
		if gs := g.bySeries[s.id]; gs != nil {
			return gs
		}
	}
	for len(g.bySeries) <= int(s.id) {
		g.bySeries = append(g.bySeries, nil)
	}
	gs := &groupSeries{series: s, isInt: v.isInt, value: number{isInt: v.isInt}}
	g.bySeries[s.id] = gs
	for _, gm := range g.metrics {
		if gm.info == s.metric {
			gm.series = append(gm.series, gs)
			return gs
		}
	}
	g.metrics = append(g.metrics, &groupMetric{info: s.metric, series: []*groupSeries{gs}})
	return gs
}

// addCurrent adds a member's sum or gauge value to the current batch's sum.
func (gs *groupSeries) addCurrent(v number, batch uint64) {
	if gs.batch != batch {
		gs.batch, gs.value = batch, number{isInt: gs.isInt}
	}
	gs.value.add(v)
}

// emit writes the group as one resource stamped with its latest member
// timestamp (or its host's latest when no member contributed).
func (g *group) emit(rm pmetric.ResourceMetrics, batch uint64) {
	rm.SetSchemaUrl(g.schemaURL)
	if g.members > 0 {
		g.base.CopyTo(g.attrs)
		for _, c := range g.common {
			if c.same {
				c.value.CopyTo(g.attrs.PutEmpty(c.key))
			}
		}
		clear(g.common) // drop references into the batch
	}
	g.attrs.CopyTo(rm.Resource().Attributes())

	ts := g.time
	if ts == 0 {
		ts = g.host.batchEnd
	}
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(metadata.ScopeName)
	ms := sm.Metrics()
	ms.EnsureCapacity(len(g.metrics) + 1)
	for _, gm := range g.metrics {
		g.emitMetric(ms, gm, ts, batch)
	}
	count := ms.AppendEmpty()
	count.SetName(MetricProcessCount)
	count.SetDescription("Number of processes rolled up into this resource.")
	count.SetUnit("{process}")
	dp := count.SetEmptyGauge().DataPoints().AppendEmpty()
	dp.SetTimestamp(ts)
	dp.SetIntValue(int64(g.members))
}

// emitMetric appends one metric of the group: every counter series, and the
// sum and gauge series some current member reported (all of them, as 0, when
// the group has no members left).
func (g *group) emitMetric(ms pmetric.MetricSlice, gm *groupMetric, ts pcommon.Timestamp, batch uint64) {
	agg := gm.info.agg
	var dps pmetric.NumberDataPointSlice
	started := false
	for _, gs := range gm.series {
		v := gs.value
		if agg != counter && gs.batch != batch {
			if g.members > 0 {
				continue // no current member reports it: no data, not 0
			}
			v = number{isInt: gs.isInt}
		}
		if !started {
			dps, started = newNumberMetric(ms, gm.info, len(gm.series)), true
		}
		dp := dps.AppendEmpty()
		gs.series.attrs.CopyTo(dp.Attributes())
		if agg != gauge {
			if gs.start == 0 {
				gs.start = g.host.since()
			}
			dp.SetStartTimestamp(gs.start)
		}
		dp.SetTimestamp(ts)
		if v.isInt {
			dp.SetIntValue(v.i)
		} else {
			dp.SetDoubleValue(v.f)
		}
	}
}

func newNumberMetric(ms pmetric.MetricSlice, info *metricInfo, points int) pmetric.NumberDataPointSlice {
	m := ms.AppendEmpty()
	m.SetName(info.name)
	m.SetDescription(info.description)
	m.SetUnit(info.unit)
	var dps pmetric.NumberDataPointSlice
	if info.agg == gauge {
		dps = m.SetEmptyGauge().DataPoints()
	} else {
		s := m.SetEmptySum()
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		s.SetIsMonotonic(info.agg == counter)
		dps = s.DataPoints()
	}
	dps.EnsureCapacity(points)
	return dps
}
