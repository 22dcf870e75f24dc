package analysis

import (
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// t0 is minute 0 of every test window.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// agent builds an AgentInput sample by sample.
type agent struct{ in AgentInput }

func newAgent(uid string, variants ...string) *agent {
	return &agent{AgentInput{InstanceUID: uid, Variants: variants}}
}

// series sets name{variant} to vals[i] at minute(first+i).
func (a *agent) series(name, variant string, first int, vals ...float64) *agent {
	for i, v := range vals {
		a.in.Samples = append(a.in.Samples, apitypes.Sample{InstanceUID: a.in.InstanceUID, Name: name,
			Variant: variant, Minute: minute(first + i), Value: v})
	}
	return a
}

// meter is a variant's steady cost_meter output.
type meter struct {
	datapoints, bytes, processes float64 // per minute
	active, critical             float64
}

// costMeter writes minutes [0, n) of a variant's cost_meter series: counters
// growing linearly from an arbitrary start, constant gauges.
func (a *agent) costMeter(variant string, n int, m meter) *agent {
	lin := func(start, rate float64) []float64 {
		out := make([]float64, n)
		for i := range out {
			out[i] = start + rate*float64(i)
		}
		return out
	}
	flat := func(v float64) []float64 { return lin(v, 0) }
	return a.series(SeriesDatapoints, variant, 0, lin(5000, m.datapoints)...).
		series(SeriesBytes, variant, 0, lin(1e6, m.bytes)...).
		series(SeriesProcessResources, variant, 0, lin(300, m.processes)...).
		series(SeriesActiveSeries, variant, 0, flat(m.active)...).
		series(SeriesCriticalProcesses, variant, 0, flat(m.critical)...)
}

// collector writes minutes [0, n) of the collector's CPU (cores) and RSS.
func (a *agent) collector(n int, cores, rss float64) *agent {
	cpu := make([]float64, n)
	mem := make([]float64, n)
	for i := range cpu {
		cpu[i] = 40 + cores*60*float64(i)
		mem[i] = rss
	}
	return a.series(SeriesCPUSeconds, "", 0, cpu...).series(SeriesMemoryRSS, "", 0, mem...)
}

var (
	// A baseline exporting 1,000 processes of 7 series, and a candidate
	// keeping a tenth of them (bytes a little less well).
	baseline  = meter{datapoints: 7000, bytes: 1e6, processes: 1000, active: 7000, critical: 10}
	candidate = meter{datapoints: 700, bytes: 1.2e5, processes: 100, active: 700, critical: 10}
)

// pairedInput is n minutes [0, n) of paired agents.
func pairedInput(n int, agents ...*agent) Input {
	in := Input{Mode: apitypes.ModePaired, From: minute(0), To: minute(n)}
	for _, a := range agents {
		in.Agents = append(in.Agents, a.in)
	}
	return in
}

func pairedAgent(uid string, n int, b, c meter) *agent {
	return newAgent(uid, apitypes.VariantBaseline, apitypes.VariantCandidate).costMeter(apitypes.VariantBaseline, n, b).costMeter(apitypes.VariantCandidate, n, c)
}
