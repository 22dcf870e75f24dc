package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

type seriesKey struct{ name, variant string }

func (k seriesKey) String() string { return seriesLabel(k.name, k.variant) }

type point struct {
	minute int64 // Unix seconds of the minute's start
	value  float64
}

// sampleIndex holds an agent's samples within the window by series, sorted
// by minute, one point per minute (the last sample given for it wins).
type sampleIndex map[seriesKey][]point

func indexSamples(samples []apitypes.Sample, from, to time.Time) sampleIndex {
	byMinute := map[seriesKey]map[int64]float64{}
	for _, s := range samples {
		if s.Minute.Before(from) || !s.Minute.Before(to) {
			continue
		}
		k := seriesKey{s.Name, s.Variant}
		if byMinute[k] == nil {
			byMinute[k] = map[int64]float64{}
		}
		byMinute[k][s.Minute.Truncate(time.Minute).Unix()] = s.Value
	}
	idx := make(sampleIndex, len(byMinute))
	for k, m := range byMinute {
		pts := make([]point, 0, len(m))
		for minute, v := range m {
			pts = append(pts, point{minute, v})
		}
		slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(a.minute, b.minute) })
		idx[k] = pts
	}
	return idx
}

// lookup returns a series' points; a counter exported through a Prometheus
// reader carries a "_total" suffix and is found under either name.
func (idx sampleIndex) lookup(k seriesKey) []point {
	if pts, ok := idx[k]; ok || strings.HasSuffix(k.name, "_total") {
		return pts
	}
	return idx[seriesKey{k.name + "_total", k.variant}]
}

// counters are the cumulative series; everything else Analyze reads is a
// gauge.
var counters = map[string]bool{
	SeriesDatapoints: true, SeriesBytes: true, SeriesProcessResources: true,
	SeriesActiveSeriesOverflow: true, SeriesCPUSeconds: true,
}

// requiredSeries lists the series an agent is read for: the cost_meter
// figures of each variant it ran, plus, in split mode, the collector's CPU
// and memory.
func requiredSeries(mode apitypes.Mode, agentVariants []string) []seriesKey {
	var keys []seriesKey
	for _, v := range variants {
		if !slices.Contains(agentVariants, v) {
			continue
		}
		for _, name := range []string{SeriesDatapoints, SeriesBytes, SeriesProcessResources, SeriesActiveSeries, SeriesCriticalProcesses} {
			keys = append(keys, seriesKey{name, v})
		}
	}
	if mode == apitypes.ModeSplit {
		keys = append(keys, seriesKey{SeriesCPUSeconds, ""}, seriesKey{SeriesMemoryRSS, ""})
	}
	return keys
}

// agentData is one agent's required series restricted to the minutes in
// which every one of them has a sample, so that all figures of the agent —
// both variants' in paired mode — come from the same samples.
type agentData struct {
	uid     string
	minutes []int64
	values  map[seriesKey][]float64 // aligned with minutes
	// resetMinutes are the minutes at which some counter went down.
	resetMinutes []int64
	// overflow is the growth of each variant's active_series_overflow
	// counter between the first and last minute, where it was reported.
	overflow map[string]float64
	// fid are the optional fidelity series (fidelity.go).
	fid *fidelityData
}

func extractAgent(a AgentInput, mode apitypes.Mode, from, to time.Time) (*agentData, error) {
	idx := indexSamples(a.Samples, from, to)
	keys := requiredSeries(mode, a.Variants)
	present := map[int64]int{}
	for _, k := range keys {
		pts := idx.lookup(k)
		if len(pts) == 0 {
			return nil, fmt.Errorf("%w: agent %s: no samples of %s in the window [%s, %s)",
				ErrInsufficientData, a.InstanceUID, k, from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		for _, p := range pts {
			present[p.minute]++
		}
	}
	d := &agentData{uid: a.InstanceUID, values: map[seriesKey][]float64{}, overflow: map[string]float64{}}
	for minute, n := range present {
		if n == len(keys) {
			d.minutes = append(d.minutes, minute)
		}
	}
	slices.Sort(d.minutes)
	if len(d.minutes) < 2 {
		return nil, fmt.Errorf("%w: agent %s: %d minute(s) in the window with every series (%s); rates need at least 2",
			ErrInsufficientData, a.InstanceUID, len(d.minutes), keyList(keys))
	}
	resets := map[int64]bool{}
	for _, k := range keys {
		vals := make([]float64, 0, len(d.minutes))
		for _, p := range idx.lookup(k) {
			if _, ok := slices.BinarySearch(d.minutes, p.minute); ok {
				vals = append(vals, p.value)
			}
		}
		d.values[k] = vals
		if counters[k.name] {
			_, at := increase(vals)
			for _, i := range at {
				resets[d.minutes[i]] = true
			}
		}
	}
	for reset := range resets {
		d.resetMinutes = append(d.resetMinutes, reset)
	}
	slices.Sort(d.resetMinutes)
	first, last := d.minutes[0], d.minutes[len(d.minutes)-1]
	for _, v := range a.Variants {
		var vals []float64
		for _, p := range idx.lookup(seriesKey{SeriesActiveSeriesOverflow, v}) {
			if p.minute >= first && p.minute <= last {
				vals = append(vals, p.value)
			}
		}
		if inc, _ := increase(vals); inc > 0 {
			d.overflow[v] = inc
		}
	}
	d.fid = readFidelity(idx, d, a.Variants)
	return d, nil
}

func keyList(keys []seriesKey) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.String()
	}
	return strings.Join(names, ", ")
}

// increase is a cumulative counter's growth over values, reset-aware: a
// decrease means the counter restarted from 0 (the collector restarted), so
// the new value is the growth since. at lists the indices of the resets.
func increase(values []float64) (inc float64, at []int) {
	for i := 1; i < len(values); i++ {
		if d := values[i] - values[i-1]; d >= 0 {
			inc += d
		} else {
			inc += values[i]
			at = append(at, i)
		}
	}
	return inc, at
}

// spanMinutes is the time between the first and last minute used.
func (d *agentData) spanMinutes() float64 {
	return float64(d.minutes[len(d.minutes)-1]-d.minutes[0]) / 60
}

// perMinute is a counter's increase over the span, per minute.
func (d *agentData) perMinute(k seriesKey) float64 {
	inc, _ := increase(d.values[k])
	return inc / d.spanMinutes()
}

func (d *agentData) mean(k seriesKey) float64 { return mean(d.values[k]) }

// figures are the agent's figures for one variant.
func (d *agentData) figures(mode apitypes.Mode, variant string) apitypes.Figures {
	f := apitypes.Figures{
		Variant:                   variant,
		DatapointsPerMinute:       d.perMinute(seriesKey{SeriesDatapoints, variant}),
		BytesPerMinute:            d.perMinute(seriesKey{SeriesBytes, variant}),
		ProcessResourcesPerMinute: d.perMinute(seriesKey{SeriesProcessResources, variant}),
		ActiveSeries:              d.mean(seriesKey{SeriesActiveSeries, variant}),
		CriticalProcesses:         d.mean(seriesKey{SeriesCriticalProcesses, variant}),
	}
	if mode == apitypes.ModeSplit {
		f.CPUCores = ptr(d.perMinute(seriesKey{SeriesCPUSeconds, ""}) / 60)
		f.MemoryRSSBytes = ptr(d.mean(seriesKey{SeriesMemoryRSS, ""}))
	}
	return f
}

// gaugePoints are a gauge's values by minute.
func (d *agentData) gaugePoints(k seriesKey) []point {
	pts := make([]point, len(d.minutes))
	for i, m := range d.minutes {
		pts[i] = point{m, d.values[k][i]}
	}
	return pts
}

// ratePoints are a counter's per-minute rate between consecutive minutes,
// stamped with the later minute (reset-aware, like increase).
func (d *agentData) ratePoints(k seriesKey) []point {
	vals := d.values[k]
	pts := make([]point, 0, len(vals)-1)
	for i := 1; i < len(vals); i++ {
		inc, _ := increase(vals[i-1 : i+1])
		pts = append(pts, point{d.minutes[i], inc / (float64(d.minutes[i]-d.minutes[i-1]) / 60)})
	}
	return pts
}
