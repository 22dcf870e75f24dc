package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Fidelity series (the contract of issue 14, docs/experiment-results.md,
// "Fidelity"): cost_meter counters per variant, all optional. An agent whose
// collector does not export them is analysed as before, without fidelity
// figures.
const (
	SeriesCPUTimeAttributed   = "otelcol_processor_cost_meter_cpu_time_attributed"
	SeriesCPUTimeRolledUp     = "otelcol_processor_cost_meter_cpu_time_rolled_up"
	SeriesMemoryAttributed    = "otelcol_processor_cost_meter_memory_attributed"
	SeriesMemoryRolledUp      = "otelcol_processor_cost_meter_memory_rolled_up"
	SeriesDiskIOAttributed    = "otelcol_processor_cost_meter_disk_io_attributed"
	SeriesDiskIORolledUp      = "otelcol_processor_cost_meter_disk_io_rolled_up"
	SeriesNetworkIOAttributed = "otelcol_processor_cost_meter_network_io_attributed"
	SeriesNetworkIORolledUp   = "otelcol_processor_cost_meter_network_io_rolled_up"
	SeriesProcessesRolledUp   = "otelcol_processor_cost_meter_processes_rolled_up"
	SeriesNotableProcesses    = "otelcol_processor_cost_meter_notable_processes"
	SeriesBlindSpots          = "otelcol_processor_cost_meter_blind_spots"
)

// MaxBlindSpotExamples is how many examples the results list per resource
// (cpu, memory).
const MaxBlindSpotExamples = 5

// quantity is one conserved quantity: its attributed and rolled-up series.
type quantity struct{ name, attributed, rolledUp string }

// quantities are the conserved quantities, in the order results list them.
// The processes attributed are the existing process_resources counter.
var quantities = []quantity{
	{apitypes.QuantityCPU, SeriesCPUTimeAttributed, SeriesCPUTimeRolledUp},
	{apitypes.QuantityMemory, SeriesMemoryAttributed, SeriesMemoryRolledUp},
	{apitypes.QuantityDisk, SeriesDiskIOAttributed, SeriesDiskIORolledUp},
	{apitypes.QuantityNetwork, SeriesNetworkIOAttributed, SeriesNetworkIORolledUp},
	{apitypes.QuantityProcesses, SeriesProcessResources, SeriesProcessesRolledUp},
}

// fidelityData is what one agent's fidelity series say over the minutes its
// figures use.
type fidelityData struct {
	// inc holds the increase of each fidelity counter the agent reported
	// at least twice within its minutes.
	inc   map[seriesKey]float64
	hours float64
	// candidate: the agent ran the candidate (every agent in paired mode).
	candidate bool
	examples  []apitypes.BlindSpotExample
	// badExamples counts example samples whose name does not parse; err is
	// the first one's error.
	badExamples int
	badErr      error
}

// readFidelity reads an agent's fidelity counters between its first and
// last minute, and its candidate's blind-spot examples in the window.
func readFidelity(idx sampleIndex, d *agentData, agentVariants []string) *fidelityData {
	first, last := d.minutes[0], d.minutes[len(d.minutes)-1]
	f := &fidelityData{inc: map[seriesKey]float64{}, hours: d.spanMinutes() / 60,
		candidate: slices.Contains(agentVariants, apitypes.VariantCandidate)}
	var names []string
	for _, q := range quantities {
		names = append(names, q.attributed, q.rolledUp)
	}
	names = append(names, SeriesNotableProcesses, SeriesBlindSpots)
	for _, v := range agentVariants {
		for _, name := range names {
			k := seriesKey{name, v}
			var vals []float64
			for _, p := range idx.lookup(k) {
				if p.minute >= first && p.minute <= last {
					vals = append(vals, p.value)
				}
			}
			if len(vals) >= 2 {
				f.inc[k], _ = increase(vals)
			}
		}
	}
	peaks := map[apitypes.BlindSpotExample]float64{}
	for k, pts := range idx {
		if k.variant != apitypes.VariantCandidate {
			continue
		}
		resource, host, name, ok, err := apitypes.ParseBlindSpotSampleName(k.name)
		switch {
		case !ok:
			continue
		case err != nil:
			if f.badExamples++; f.badErr == nil {
				f.badErr = err
			}
			continue
		}
		ex := apitypes.BlindSpotExample{Name: name, Host: host, InstanceUID: d.uid, Resource: resource}
		for _, p := range pts {
			peaks[ex] = max(peaks[ex], p.value)
		}
	}
	for ex, peak := range peaks {
		ex.Peak = peak
		f.examples = append(f.examples, ex)
	}
	return f
}

// sums adds up, over the agents that reported every one of keys, each
// key's increase; n is how many agents did.
func sums(data []*agentData, keys ...seriesKey) (total []float64, n int) {
	total = make([]float64, len(keys))
next:
	for _, d := range data {
		if d.fid == nil {
			continue
		}
		for _, k := range keys {
			if _, ok := d.fid.inc[k]; !ok {
				continue next
			}
		}
		for i, k := range keys {
			total[i] += d.fid.inc[k]
		}
		n++
	}
	return total, n
}

// fidelity computes the candidate's fidelity figures over the agents the
// results keep (docs/experiment-results.md, "Fidelity").
func fidelity(mode apitypes.Mode, data []*agentData) *apitypes.Fidelity {
	f := &apitypes.Fidelity{Variant: apitypes.VariantCandidate}
	note := func(format string, args ...any) { f.Notes = append(f.Notes, fmt.Sprintf(format, args...)) }
	base := func(name string) seriesKey { return seriesKey{name, apitypes.VariantBaseline} }
	cand := func(name string) seriesKey { return seriesKey{name, apitypes.VariantCandidate} }
	contributed := map[string]bool{}
	count := func(keys ...seriesKey) {
		for _, d := range data {
			if d.fid == nil {
				continue
			}
			all := true
			for _, k := range keys {
				_, ok := d.fid.inc[k]
				all = all && ok
			}
			if all {
				contributed[d.uid] = true
			}
		}
	}
	coverage := func(q quantity) *float64 {
		if mode == apitypes.ModeSplit {
			t, n := sums(data, cand(q.attributed), cand(q.rolledUp))
			count(cand(q.attributed), cand(q.rolledUp))
			if n == 0 || !allFinite(t[0]+t[1]) || t[0]+t[1] == 0 {
				return nil
			}
			return finitePtr(t[0] / (t[0] + t[1]))
		}
		t, n := sums(data, cand(q.attributed), base(q.attributed), base(q.rolledUp))
		count(cand(q.attributed), base(q.attributed), base(q.rolledUp))
		if n == 0 || !allFinite(t[0], t[1]+t[2]) || t[1]+t[2] == 0 {
			return nil
		}
		return finitePtr(t[0] / (t[1] + t[2]))
	}
	f.CPUCoverage = coverage(quantities[0])
	f.MemoryCoverage = coverage(quantities[1])
	if mode == apitypes.ModeSplit {
		f.CoverageUpperBound = f.CPUCoverage != nil || f.MemoryCoverage != nil
		note("split mode: coverage is the candidate's own attributed ÷ (attributed + rolled up), an upper bound when its pipeline drops processes; " +
			"conservation and blind spots need both variants on the same hosts and are not measurable in split mode")
	} else {
		conservation(f, data, note, count)
		rate := func(k seriesKey) *float64 {
			count(k)
			total, hours := 0.0, 0.0
			for _, d := range data {
				if d.fid == nil {
					continue
				}
				if inc, ok := d.fid.inc[k]; ok {
					total, hours = total+inc, hours+d.fid.hours
				}
			}
			if hours == 0 {
				return nil
			}
			return finitePtr(total / hours)
		}
		f.BlindSpotsPerHour = rate(cand(SeriesBlindSpots))
		f.NotableProcessesPerHour = rate(base(SeriesNotableProcesses))
	}
	f.BlindSpotExamples = worstExamples(data)
	f.Agents = len(contributed)
	switch {
	case f.Agents == 0 && len(f.BlindSpotExamples) == 0:
		f.Notes = []string{"no fidelity figures: the collectors did not export cost_meter's fidelity series " +
			"(collectors older than the fidelity figures, or the series missing from the window)"}
		return f
	}
	if eligible := candidateAgents(data); f.Agents < eligible {
		note("fidelity figures from %d of %d agents running the candidate: the others did not export cost_meter's fidelity series", f.Agents, eligible)
	}
	if f.CPUCoverage == nil {
		note("CPU coverage not measured: no agent reported the CPU time series it needs, or their total is 0")
	}
	if f.MemoryCoverage == nil {
		note("memory coverage not measured: no agent reported the memory series it needs, or their total is 0")
	}
	bad, first := 0, error(nil)
	for _, d := range data {
		if d.fid != nil && d.fid.badExamples > 0 {
			if bad += d.fid.badExamples; first == nil {
				first = d.fid.badErr
			}
		}
	}
	if bad > 0 {
		note("%d blind-spot example series could not be read and are left out; the first: %v", bad, first)
	}
	return f
}

// candidateAgents counts the agents that ran the candidate.
func candidateAgents(data []*agentData) int {
	n := 0
	for _, d := range data {
		if d.fid != nil && d.fid.candidate {
			n++
		}
	}
	return n
}

// conservation compares each quantity's totals in the two variants.
func conservation(f *apitypes.Fidelity, data []*agentData, note func(string, ...any), count func(...seriesKey)) {
	conserved := true
	for _, q := range quantities {
		keys := []seriesKey{
			{q.attributed, apitypes.VariantBaseline}, {q.rolledUp, apitypes.VariantBaseline},
			{q.attributed, apitypes.VariantCandidate}, {q.rolledUp, apitypes.VariantCandidate},
		}
		t, n := sums(data, keys...)
		if n == 0 {
			continue
		}
		count(keys...)
		b, c := t[0]+t[1], t[2]+t[3]
		if !allFinite(b, c) {
			note("%s conservation not measured: its totals overflow", q.name)
			continue
		}
		if b == 0 {
			note("%s conservation not measured: the baseline counted none", q.name)
			continue
		}
		e := conservationError(b, c)
		f.Conservation = append(f.Conservation, apitypes.Conservation{Quantity: q.name, Baseline: b, Candidate: c,
			Error: e, Under1Percent: e < apitypes.ConservationTolerance})
		conserved = conserved && e < apitypes.ConservationTolerance
	}
	if len(f.Conservation) > 0 {
		f.Conserved = &conserved
	}
}

// conservationError is |cand − base| / base, base > 0, kept finite.
func conservationError(base, cand float64) float64 {
	return min(math.Abs(cand-base)/base, math.MaxFloat64)
}

func allFinite(fs ...float64) bool {
	for _, f := range fs {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
	}
	return true
}

// finitePtr is a pointer to f, or nil when f is not finite: results always
// encode to JSON, and a figure that overflows is left out.
func finitePtr(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// worstExamples are the blind-spot examples of every agent, the worst
// MaxBlindSpotExamples per resource, CPU first, each by peak.
func worstExamples(data []*agentData) []apitypes.BlindSpotExample {
	var all []apitypes.BlindSpotExample
	for _, d := range data {
		if d.fid != nil {
			all = append(all, d.fid.examples...)
		}
	}
	rank := func(r string) int {
		if r == apitypes.ResourceCPU {
			return 0
		}
		return 1
	}
	slices.SortFunc(all, func(a, b apitypes.BlindSpotExample) int {
		return cmp.Or(cmp.Compare(rank(a.Resource), rank(b.Resource)), cmp.Compare(b.Peak, a.Peak),
			cmp.Compare(a.Host, b.Host), cmp.Compare(a.Name, b.Name), cmp.Compare(a.InstanceUID, b.InstanceUID))
	})
	var out []apitypes.BlindSpotExample
	per := map[string]int{}
	for _, ex := range all {
		if per[ex.Resource] < MaxBlindSpotExamples {
			per[ex.Resource]++
			out = append(out, ex)
		}
	}
	return out
}
