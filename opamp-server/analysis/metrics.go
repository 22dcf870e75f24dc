package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Metrics exports experiments' results as Prometheus gauges, read at scrape
// time from a function the server provides, so the server owns storage.
// Register it on the server's registry.
type Metrics struct {
	results func() map[string]apitypes.Results

	reduction, retained, hourlyCost, activeSeries, datapoints *prometheus.Desc
	cpuCoverage, blindSpots                                   *prometheus.Desc
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics returns a collector of the results results returns, keyed by
// experiment ID. It is called once per scrape; a nil map exports nothing.
func NewMetrics(results func() map[string]apitypes.Results) *Metrics {
	return &Metrics{
		results: results,
		reduction: prometheus.NewDesc("phoenix_pipeline_cardinality_reduction_ratio",
			"Active-series reduction of the experiment's candidate, 1 - candidate/baseline (point estimate).",
			[]string{"experiment"}, nil),
		retained: prometheus.NewDesc("phoenix_pipeline_critical_processes_retained",
			"Critical processes the candidate kept, as a ratio of the baseline's (0-1; 1 when the baseline saw none).",
			[]string{"experiment"}, nil),
		hourlyCost: prometheus.NewDesc("phoenix_estimated_hourly_cost_usd",
			"Estimated hourly cost in USD if every target of the experiment ran the variant, by price model.",
			[]string{"experiment", "variant", "model"}, nil),
		activeSeries: prometheus.NewDesc("phoenix_pipeline_active_series",
			"Mean active series per agent of the variant over the measurement window.",
			[]string{"experiment", "variant"}, nil),
		datapoints: prometheus.NewDesc("phoenix_pipeline_datapoints_per_minute",
			"Mean datapoints per minute per agent of the variant over the measurement window.",
			[]string{"experiment", "variant"}, nil),
		cpuCoverage: prometheus.NewDesc("phoenix_pipeline_cpu_coverage_ratio",
			"Share of the processes' CPU time the experiment's candidate keeps in per-process series (0-1; absent without fidelity figures).",
			[]string{"experiment"}, nil),
		blindSpots: prometheus.NewDesc("phoenix_pipeline_blind_spots_per_hour",
			"Notable processes per agent and hour the experiment's candidate did not export on their own (paired mode; absent without fidelity figures).",
			[]string{"experiment"}, nil),
	}
}

// Describe sends the descriptors of every family Metrics exports.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.reduction, m.retained, m.hourlyCost, m.activeSeries, m.datapoints, m.cpuCoverage, m.blindSpots} {
		ch <- d
	}
}

// Collect exports the current results of every experiment.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		metric, err := prometheus.NewConstMetric(d, prometheus.GaugeValue, v, labels...)
		if err != nil { // a label value that is not UTF-8: report it, never panic
			metric = prometheus.NewInvalidMetric(d, err)
		}
		ch <- metric
	}
	for id, r := range m.results() {
		gauge(m.reduction, r.Derived.SeriesReduction.Value, id)
		gauge(m.retained, r.Derived.CriticalRetention, id)
		for _, v := range r.Variants {
			gauge(m.activeSeries, v.ActiveSeries, id, v.Variant)
			gauge(m.datapoints, v.DatapointsPerMinute, id, v.Variant)
		}
		if f := r.Fidelity; f != nil && f.CPUCoverage != nil {
			gauge(m.cpuCoverage, *f.CPUCoverage, id)
		}
		if f := r.Fidelity; f != nil && f.BlindSpotsPerHour != nil {
			gauge(m.blindSpots, *f.BlindSpotsPerHour, id)
		}
		for _, c := range r.Costs {
			for _, v := range c.Variants {
				gauge(m.hourlyCost, v.Hourly, id, v.Variant, c.Model.Name)
			}
		}
	}
}
