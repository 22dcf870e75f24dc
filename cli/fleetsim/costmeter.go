package fleetsim

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.yaml.in/yaml/v3"

	"github.com/open-telemetry/opamp-go/protobufs"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// The cost_meter processor's own metrics as the collector's OTLP reader
// sends them (processors/costmeter/metadata.yaml, README.md), each data
// point labelled with the processor's variant.
const (
	MetricCostMeterActiveSeries      = "otelcol_processor_cost_meter_active_series"
	MetricCostMeterOverflow          = "otelcol_processor_cost_meter_active_series_overflow"
	MetricCostMeterBatches           = "otelcol_processor_cost_meter_batches"
	MetricCostMeterBytes             = "otelcol_processor_cost_meter_bytes"
	MetricCostMeterCriticalProcesses = "otelcol_processor_cost_meter_critical_processes"
	MetricCostMeterDatapoints        = "otelcol_processor_cost_meter_datapoints"
	MetricCostMeterProcessResources  = "otelcol_processor_cost_meter_process_resources"

	// CostMeterScope is the instrumentation scope the processor's metrics
	// come in (its generated metadata.ScopeName).
	CostMeterScope = "github.com/phoenix/platform/processors/costmeter"
	// CostMeterVariant is the data point attribute naming the variant.
	CostMeterVariant = "variant"
)

// Process figures of a simulated host, as cost_meter would count them.
const (
	// scrapeSeconds is the process scraper's collection interval, the
	// catalog's default.
	scrapeSeconds = 30
	// seriesPerProcess and bytesPerProcess are a process scraped with the
	// default metrics: about 7 series and 1 KiB of OTLP per scrape.
	seriesPerProcess = 7
	bytesPerProcess  = 1024
)

// costMeters is what the collector configurations the fleet's agents run
// say about cost_meter: the variants of the meters each runs, by
// configuration hash. Agents of an experiment share a few configurations,
// so each is read once.
type costMeters struct {
	mu     sync.Mutex
	byHash map[string][]string
}

// maxCachedConfigs bounds costMeters: past it, the cache starts over.
const maxCachedConfigs = 256

// variants are the variants of the cost_meter processors config (hash
// hash) runs.
func (c *costMeters) variants(hash []byte, config *protobufs.AgentConfigMap) []string {
	key := string(hash)
	c.mu.Lock()
	v, ok := c.byHash[key]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = costMeterVariants(config)
	c.mu.Lock()
	if c.byHash == nil || len(c.byHash) >= maxCachedConfigs {
		c.byHash = map[string][]string{}
	}
	c.byHash[key] = v
	c.mu.Unlock()
	return v
}

// collectorConfig is the part of a collector configuration that says which
// cost_meter processors run.
type collectorConfig struct {
	Processors map[string]struct {
		Variant string `yaml:"variant"`
	} `yaml:"processors"`
	Service struct {
		Pipelines map[string]struct {
			Processors []string `yaml:"processors"`
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

// costMeterVariants lists, sorted and once each, the variants of the
// cost_meter processors (type cost_meter, any name) that a pipeline of the
// configuration uses: the collector builds only those. A paired
// experiment's configuration runs two (baseline and candidate), a split
// one's or an ordinary pipeline's one. The supervisor merges the map's
// files into one configuration; so are their pipelines and processors here.
func costMeterVariants(cm *protobufs.AgentConfigMap) []string {
	merged := collectorConfig{Processors: map[string]struct {
		Variant string `yaml:"variant"`
	}{}}
	used := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(cm.GetConfigMap())) {
		var c collectorConfig
		if yaml.Unmarshal(cm.GetConfigMap()[name].GetBody(), &c) != nil {
			continue // a collector would not start: it has no meters
		}
		maps.Copy(merged.Processors, c.Processors)
		for _, p := range c.Service.Pipelines {
			for _, id := range p.Processors {
				used[id] = true
			}
		}
	}
	var out []string
	for id := range used {
		typ, _, _ := strings.Cut(id, "/")
		if v := merged.Processors[id].Variant; typ == "cost_meter" && v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// appendCostMeters adds the figures of the agent's cost_meter processors
// to rm, in the processor's scope, one data point per variant: what they
// counted since the collector started, uptime seconds ago, scraping a host
// of 100 to 400 processes (fixed by the agent's index) every
// scrapeSeconds. A baseline meter sees every process; any other variant's
// pipeline (a candidate, a top-k pipeline of its own) keeps
// Options.CandidateShare of the series, datapoints, bytes and processes,
// and every critical process. Their fidelity figures are appendFidelity's.
func (a *agent) appendCostMeters(rm pmetric.ResourceMetrics, variants []string, start, ts pcommon.Timestamp, uptime float64) {
	if len(variants) == 0 {
		return
	}
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName(CostMeterScope)
	ms := sm.Metrics()
	processes := 100 + int64(300*spread(a.index*5+1))
	critical := int64(2 + a.index%4)
	scrapes := int64(uptime/scrapeSeconds) + 1 // the first at start
	// add appends a metric whose value for a variant keeping share of
	// the processes is perScrape(share): a gauge's now, a counter's every
	// scrape since the start.
	add := func(name, unit string, counter bool, perScrape func(share float64) int64) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		var dps pmetric.NumberDataPointSlice
		if counter {
			s := m.SetEmptySum()
			s.SetIsMonotonic(true)
			s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
			dps = s.DataPoints()
		} else {
			dps = m.SetEmptyGauge().DataPoints()
		}
		for _, v := range variants {
			share := a.f.o.CandidateShare
			if v == apitypes.VariantBaseline {
				share = 1
			}
			n := perScrape(share)
			dp := dps.AppendEmpty()
			dp.Attributes().PutStr(CostMeterVariant, v)
			if counter {
				n *= scrapes
				dp.SetStartTimestamp(start)
			}
			dp.SetTimestamp(ts)
			dp.SetIntValue(n)
		}
	}
	kept := func(n int64) func(float64) int64 {
		return func(share float64) int64 { return max(int64(float64(n)*share), 1) }
	}
	constant := func(n int64) func(float64) int64 { return func(float64) int64 { return n } }
	add(MetricCostMeterActiveSeries, "{series}", false, kept(seriesPerProcess*processes))
	add(MetricCostMeterOverflow, "{datapoint}", true, constant(0))
	add(MetricCostMeterBatches, "{batch}", true, constant(1))
	add(MetricCostMeterBytes, "By", true, kept(bytesPerProcess*processes))
	add(MetricCostMeterCriticalProcesses, "{process}", false, constant(critical))
	add(MetricCostMeterDatapoints, "{datapoint}", true, kept(seriesPerProcess*processes))
	add(MetricCostMeterProcessResources, "{process}", true, kept(processes))
	interval := a.f.o.TelemetryInterval.Seconds()
	if interval <= 0 {
		interval = 60
	}
	a.appendFidelity(ms, variants, processes, scrapes, start, ts, uptime, interval)
}
