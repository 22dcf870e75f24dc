package chaintest

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/contract/datapoints"
	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// seriesKey identifies a series: its resource (a process by host and PID;
// any other resource by its attributes), metric and datapoint attributes.
type seriesKey struct {
	host     string
	pid      int64
	resource string // attributes of a resource that is not a process
	metric   string
	attrs    string
}

// counterPrev is a counter series' previous datapoint in its stream.
type counterPrev struct {
	start pcommon.Timestamp
	value float64
}

// streamFigures are the fidelity figures of one stream (baseline input or
// candidate output), summed over the scrapes they were added for.
type streamFigures struct {
	cpu, memory          [2]float64 // [attributed, rolled up]: CPU seconds, RSS byte-scrapes
	processes            [2]int64   // per-process resources; processes folded into rollups
	datapoints           int64
	critical, criticalIn int // critical processes exported per process; in the input (candidate only)
}

const (
	attributedSeries = 0
	rolledUpSeries   = 1
)

// stream follows one stream of scrapes: its counters' previous values and
// the distinct series it carried.
type stream struct {
	prev     map[seriesKey]counterPrev
	all      map[seriesKey]struct{} // over the whole run
	measured map[seriesKey]struct{} // over the measured scrapes
	whole    streamFigures          // every scrape
	figures  streamFigures          // measured scrapes
	// critical counts, per scrape, the per-process resources that match a
	// critical rule.
	critical []int
}

// baselines caches each profile's baseline stream: the population is
// deterministic, so every grid point sees the same input, and reading it is
// most of a run's time. Each run still feeds its own baseline cost_meter,
// which checkAgainstCostMeter compares with the cached figures.
var baselines = map[string]*stream{}

func newStream() *stream {
	return &stream{prev: map[seriesKey]counterPrev{}, all: map[seriesKey]struct{}{}, measured: map[seriesKey]struct{}{}}
}

// add reads one scrape of the stream. It returns the per-process resources
// that match a critical rule.
func (s *stream) add(t *testing.T, md pmetric.Metrics, measured bool, matcher *criticalrules.Matcher) (critical int) {
	t.Helper()
	var f streamFigures
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := seriesKey{host: stringAttr(rm.Resource().Attributes(), processmetrics.AttrHostName)}
		class := -1
		if r, ok := processmetrics.Read(rm); ok {
			// A series is named by its labels, as a backend names it: not by its
			// start time, which process_rollup restarts for a process leaving a rollup.
			res.pid, class = r.Key.PID, attributedSeries
			f.processes[attributedSeries]++
			if _, isCritical := matcher.Match(rm.Resource().Attributes()); isCritical {
				critical++
			}
		} else {
			res.resource = datapoints.Key(rm.Resource().Attributes())
			if n := processCount(rm); n >= 0 {
				class = rolledUpSeries
				f.processes[rolledUpSeries] += n
			}
		}
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				default:
					t.Fatalf("unexpected %s metric %s", m.Type(), m.Name())
				}
				for l := 0; l < dps.Len(); l++ {
					dp := dps.At(l)
					key := res
					key.metric, key.attrs = m.Name(), datapoints.Key(dp.Attributes())
					s.all[key] = struct{}{}
					if measured {
						s.measured[key] = struct{}{}
					}
					f.datapoints++
					v := processmetrics.NumberValue(dp)
					switch {
					case class < 0:
					case m.Name() == processmetrics.MetricMemoryUsage:
						f.memory[class] += v
					case m.Name() == processmetrics.MetricCPUTime:
						prev, seen := s.prev[key]
						s.prev[key] = counterPrev{start: dp.StartTimestamp(), value: v}
						if seen && prev.start == dp.StartTimestamp() && v >= prev.value {
							f.cpu[class] += v - prev.value
						}
					}
				}
			}
		}
	}
	require.Equal(t, int64(md.DataPointCount()), f.datapoints, "every datapoint is a number point")
	s.whole.addUp(f)
	if measured {
		s.figures.addUp(f)
	}
	return critical
}

func (f *streamFigures) addUp(g streamFigures) {
	for c := range 2 {
		f.cpu[c] += g.cpu[c]
		f.memory[c] += g.memory[c]
		f.processes[c] += g.processes[c]
	}
	f.datapoints += g.datapoints
}
