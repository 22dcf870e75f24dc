package fleetsim

import (
	"math"
	"slices"
	"strconv"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// cost_meter's fidelity figures (the contract of issue 14), as the
// collector's OTLP reader sends them.
const (
	MetricCostMeterCPUTimeAttributed   = "otelcol_processor_cost_meter_cpu_time_attributed"
	MetricCostMeterCPUTimeRolledUp     = "otelcol_processor_cost_meter_cpu_time_rolled_up"
	MetricCostMeterMemoryAttributed    = "otelcol_processor_cost_meter_memory_attributed"
	MetricCostMeterMemoryRolledUp      = "otelcol_processor_cost_meter_memory_rolled_up"
	MetricCostMeterDiskIOAttributed    = "otelcol_processor_cost_meter_disk_io_attributed"
	MetricCostMeterDiskIORolledUp      = "otelcol_processor_cost_meter_disk_io_rolled_up"
	MetricCostMeterNetworkIOAttributed = "otelcol_processor_cost_meter_network_io_attributed"
	MetricCostMeterNetworkIORolledUp   = "otelcol_processor_cost_meter_network_io_rolled_up"
	MetricCostMeterProcessesRolledUp   = "otelcol_processor_cost_meter_processes_rolled_up"
	MetricCostMeterNotableProcesses    = "otelcol_processor_cost_meter_notable_processes"
	MetricCostMeterBlindSpots          = "otelcol_processor_cost_meter_blind_spots"
	MetricCostMeterBlindSpotPeak       = apitypes.BlindSpotPeakMetric
)

// A simulated host's processes, per process and scrape, and how often a
// candidate misses a notable one.
const (
	cpuCoresPerProcess  = 0.01     // 1% of a core each
	memoryPerProcess    = 50 << 20 // 50 MiB resident each
	diskBytesPerProcess = 4096     // 4 KiB read or written each
	// notableEverySeconds: a new notable process (a batch job, a busy
	// request handler) every minute, after 3 from the start;
	// blindSpotEverySeconds: a candidate keeping less than every process
	// misses one every 3 minutes (20 per hour), so a short experiment
	// shows some.
	notableEverySeconds   = 60
	blindSpotEverySeconds = 180
)

// fidelityCoverage is the share of a host's CPU time and memory in the
// processes a candidate keeping share of them exports on their own: few
// processes hold most of both, so a top-k candidate keeps much more than
// its share (share^0.1 of CPU, share^0.2 of memory: 83% and 68% at 0.15).
func fidelityCoverage(share float64) (cpu, memory float64) {
	return math.Pow(share, 0.1), math.Pow(share, 0.2)
}

// appendFidelity adds the fidelity figures of the agent's cost_meter
// processors to ms: coverage counters for every variant (a baseline
// attributes everything; any other variant its fidelityCoverage, the rest
// rolled up, so every quantity is conserved exactly), and in paired mode
// (a baseline and another variant) the baseline's notable processes, the
// others' blind spots and, when one happened since the previous export
// (interval seconds ago), its example.
func (a *agent) appendFidelity(ms pmetric.MetricSlice, variants []string, processes, scrapes int64, start, ts pcommon.Timestamp, uptime, interval float64) {
	share := a.f.o.CandidateShare
	paired := len(variants) > 1 && slices.Contains(variants, apitypes.VariantBaseline)
	counter := func(name, unit string, value func(variant string) (float64, bool), double bool) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		for _, v := range variants {
			n, ok := value(v)
			if !ok {
				continue
			}
			dp := s.DataPoints().AppendEmpty()
			dp.Attributes().PutStr(CostMeterVariant, v)
			dp.SetStartTimestamp(start)
			dp.SetTimestamp(ts)
			if double {
				dp.SetDoubleValue(n)
			} else {
				dp.SetIntValue(int64(n))
			}
		}
	}
	cpuCov, memCov := fidelityCoverage(share)
	// split divides a per-scrape total since the start into attributed
	// and rolled up; byte counters are whole numbers, CPU seconds (double)
	// are not.
	split := func(perScrape, coverage float64, attributed, double bool) func(string) (float64, bool) {
		whole := math.Round
		if double {
			whole = func(f float64) float64 { return f }
		}
		return func(v string) (float64, bool) {
			c := coverage
			if v == apitypes.VariantBaseline {
				c = 1
			}
			total := whole(perScrape * float64(scrapes))
			if attributed {
				return whole(total * c), true
			}
			return total - whole(total*c), true
		}
	}
	p := float64(processes)
	cpu := p * cpuCoresPerProcess * scrapeSeconds
	counter(MetricCostMeterCPUTimeAttributed, "s", split(cpu, cpuCov, true, true), true)
	counter(MetricCostMeterCPUTimeRolledUp, "s", split(cpu, cpuCov, false, true), true)
	counter(MetricCostMeterMemoryAttributed, "By", split(p*memoryPerProcess, memCov, true, false), false)
	counter(MetricCostMeterMemoryRolledUp, "By", split(p*memoryPerProcess, memCov, false, false), false)
	counter(MetricCostMeterDiskIOAttributed, "By", split(p*diskBytesPerProcess, cpuCov, true, false), false)
	counter(MetricCostMeterDiskIORolledUp, "By", split(p*diskBytesPerProcess, cpuCov, false, false), false)
	// process.network.io is not scraped on these hosts: never incremented.
	zero := func(string) (float64, bool) { return 0, true }
	counter(MetricCostMeterNetworkIOAttributed, "By", zero, false)
	counter(MetricCostMeterNetworkIORolledUp, "By", zero, false)
	// Processes rolled up: those process_resources does not count.
	counter(MetricCostMeterProcessesRolledUp, "{process}", func(v string) (float64, bool) {
		if v == apitypes.VariantBaseline {
			return 0, true
		}
		return float64((processes - max(int64(p*share), 1)) * scrapes), true
	}, false)
	if !paired {
		return // no reference in the collector: coverage counters only
	}
	missed := share < 1
	blindSpots := func(t float64) int64 { return int64(max(t, 0) / blindSpotEverySeconds) }
	counter(MetricCostMeterNotableProcesses, "{process}", func(v string) (float64, bool) {
		return float64(3 + int64(uptime/notableEverySeconds)), v == apitypes.VariantBaseline
	}, false)
	counter(MetricCostMeterBlindSpots, "{process}", func(v string) (float64, bool) {
		if !missed {
			return 0, v != apitypes.VariantBaseline
		}
		return float64(blindSpots(uptime)), v != apitypes.VariantBaseline
	}, false)
	n := blindSpots(uptime)
	if !missed || n == 0 || n == blindSpots(uptime-interval) {
		return
	}
	m := ms.AppendEmpty()
	m.SetName(MetricCostMeterBlindSpotPeak)
	dps := m.SetEmptyGauge().DataPoints()
	for _, v := range variants {
		if v == apitypes.VariantBaseline {
			continue
		}
		dp := dps.AppendEmpty()
		attrs := dp.Attributes()
		attrs.PutStr(CostMeterVariant, v)
		attrs.PutStr("process.executable.name", "batch-job-"+strconv.FormatInt(n, 10))
		attrs.PutStr("host.name", a.hostName())
		dp.SetTimestamp(ts)
		if n%2 == 1 {
			attrs.PutStr("resource", apitypes.ResourceCPU)
			dp.SetDoubleValue(0.1 + 0.4*spread(a.index+int(n)))
		} else {
			attrs.PutStr("resource", apitypes.ResourceMemory)
			dp.SetDoubleValue(float64(int64(1<<30) + int64(spread(a.index+int(n))*float64(2<<30))))
		}
	}
}
