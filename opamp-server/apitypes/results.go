package apitypes // import "github.com/phoenix/platform/opamp-server/apitypes"

import "time"

// Results are an experiment's measured figures, derived comparisons, cost
// estimates and verdict (docs/experiment-results.md). Every number is
// finite, so Results always encode to JSON. Slices by variant list the
// baseline first.
type Results struct {
	Mode Mode      `json:"mode"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Targets is the number of agents in the experiment.
	Targets int `json:"targets"`
	// Criteria are the criteria as judged, defaults filled in.
	Criteria Criteria `json:"criteria"`
	// Variants are the per-variant figures: means per agent of the variant.
	Variants []VariantFigures `json:"variants"`
	// Agents are the per-agent figures, in input order.
	Agents   []AgentFigures  `json:"agents"`
	Derived  Derived         `json:"derived"`
	Costs    []ModelCost     `json:"costs"`
	Verdict  Verdict         `json:"verdict"`
	Series   []VariantSeries `json:"series"`
	Warnings []string        `json:"warnings,omitempty"`
	// Excluded is how many targets the figures leave out because their
	// samples cannot support figures (a collector that did not report
	// through the window, a baseline that exported nothing); past a share
	// of the targets the analysis fails instead.
	Excluded int `json:"excluded,omitempty"`
	// ExcludedAgents are the first of them, each with the reason.
	ExcludedAgents []ExcludedAgent `json:"excluded_agents,omitempty"`
	// Fidelity is what the candidate's pipeline keeps of the processes it
	// meters: coverage, conservation, blind spots (docs/experiment-results.md,
	// "Fidelity"). Results analysed before fidelity figures existed leave it
	// out.
	Fidelity *Fidelity `json:"fidelity,omitempty"`
	// Candidates rank the candidates of an experiment with several
	// (spec.candidates), best first: those that meet every criterion, the
	// cheapest first, then the others, the cheapest first. The figures
	// above (Variants, Derived, Costs, Verdict, Fidelity) are those of the
	// first ranked, under its own variant name.
	Candidates []CandidateResults `json:"candidates,omitempty"`
	// Recommended names the cheapest candidate that meets every criterion;
	// empty when none does or the experiment has a single candidate.
	Recommended string `json:"recommended,omitempty"`
}

// CandidateResults are one candidate's results in an experiment with
// several: its comparison with the baseline, as Results gives it for a
// single candidate.
type CandidateResults struct {
	Name       string         `json:"name"`
	Pipeline   string         `json:"pipeline"`
	Parameters map[string]any `json:"parameters,omitempty"`
	// Rank is the candidate's place, from 1.
	Rank int `json:"rank"`
	// Figures are the candidate's means per agent.
	Figures  VariantFigures `json:"figures"`
	Derived  Derived        `json:"derived"`
	Costs    []ModelCost    `json:"costs"`
	Verdict  Verdict        `json:"verdict"`
	Fidelity *Fidelity      `json:"fidelity,omitempty"`
	// ParetoOptimal reports that no other candidate is at least as cheap
	// (the first price model's monthly cost) with at least as much CPU
	// coverage and is better in one of them.
	ParetoOptimal bool `json:"pareto_optimal"`
}

// ExcludedAgent is a target left out of the results, and why.
type ExcludedAgent struct {
	InstanceUID string `json:"instance_uid"`
	Reason      string `json:"reason"`
}

// Figures are one variant's measurements: of one agent, or the mean per
// agent over the agents that ran the variant.
type Figures struct {
	Variant string `json:"variant"`
	// DatapointsPerMinute, BytesPerMinute and ProcessResourcesPerMinute are
	// counter increases over the window divided by its length in minutes.
	DatapointsPerMinute       float64 `json:"datapoints_per_minute"`
	BytesPerMinute            float64 `json:"bytes_per_minute"`
	ProcessResourcesPerMinute float64 `json:"process_resources_per_minute"`
	// ActiveSeries and CriticalProcesses are gauge means over the window.
	ActiveSeries      float64 `json:"active_series"`
	CriticalProcesses float64 `json:"critical_processes"`
	// CPUCores (CPU seconds per second) and MemoryRSSBytes (mean) describe
	// the whole collector; split mode only.
	CPUCores       *float64 `json:"cpu_cores,omitempty"`
	MemoryRSSBytes *float64 `json:"memory_rss_bytes,omitempty"`
}

// VariantFigures are a variant's figures as means per agent.
type VariantFigures struct {
	Figures
	// Agents is how many agents ran the variant.
	Agents int `json:"agents"`
}

// AgentFigures are one agent's figures and, in paired mode, its own
// comparison of the two variants.
type AgentFigures struct {
	InstanceUID string `json:"instance_uid"`
	// From and To are the first and last minute used: the minutes within the
	// window in which every series the agent is read for has a sample.
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Minutes int       `json:"minutes"`
	// Variants holds one entry per variant the agent ran.
	Variants []Figures `json:"variants"`
	// Paired mode only: 1 − candidate/baseline over the same minutes, and
	// the critical-process retention.
	SeriesReduction     *float64 `json:"series_reduction,omitempty"`
	DatapointsReduction *float64 `json:"datapoints_reduction,omitempty"`
	BytesReduction      *float64 `json:"bytes_reduction,omitempty"`
	CriticalRetention   *float64 `json:"critical_retention,omitempty"`
}

// Derived compares the candidate with the baseline.
type Derived struct {
	// Reductions are 1 − candidate/baseline: 0.9 means the candidate
	// exports 90% less.
	SeriesReduction     Estimate `json:"series_reduction"`
	DatapointsReduction Estimate `json:"datapoints_reduction"`
	BytesReduction      Estimate `json:"bytes_reduction"`
	// CriticalRetention is the candidate's mean critical processes over the
	// baseline's, 1 when the baseline saw none.
	CriticalRetention float64 `json:"critical_retention"`
	// BaselineSawNoCritical reports that CriticalRetention is 1 by definition.
	BaselineSawNoCritical bool `json:"baseline_saw_no_critical,omitempty"`
	// CPUIncrease and MemoryIncrease are candidate/baseline − 1 of the
	// collectors' CPU and RSS; split mode only.
	CPUIncrease    *Estimate `json:"cpu_increase,omitempty"`
	MemoryIncrease *Estimate `json:"memory_increase,omitempty"`
}

// Estimate is a point estimate with its 95% confidence interval.
type Estimate struct {
	Value float64 `json:"value"`
	// Interval is nil when it cannot be computed (too few agents).
	Interval *Interval `json:"interval,omitempty"`
}

// IntervalMethod is how a confidence interval was computed.
type IntervalMethod string

// Interval methods.
const (
	// MethodPairedT: mean of per-agent values ± t(0.975, n−1)·s/√n.
	MethodPairedT IntervalMethod = "paired_t"
	// MethodDeltaWelch: ratio of cohort means, delta-method standard error,
	// t quantile with Welch–Satterthwaite degrees of freedom.
	MethodDeltaWelch IntervalMethod = "delta_method_welch"
)

// Interval is a two-sided confidence interval.
type Interval struct {
	Low              float64        `json:"low"`
	High             float64        `json:"high"`
	Confidence       float64        `json:"confidence"`
	Method           IntervalMethod `json:"method"`
	DegreesOfFreedom float64        `json:"degrees_of_freedom"`
}

// ModelCost is one price model's estimate for both variants.
type ModelCost struct {
	Model PriceModel `json:"model"`
	// Variants are the costs per variant, baseline first.
	Variants []VariantCost `json:"variants"`
	// Savings are baseline minus candidate.
	MonthlySavingPerHost float64 `json:"monthly_saving_per_host_usd"`
	MonthlySaving        float64 `json:"monthly_saving_usd"`
	HourlySaving         float64 `json:"hourly_saving_usd"`
	// SavingFraction is MonthlySaving over the baseline's monthly cost for
	// all targets (0 when that is 0).
	SavingFraction float64 `json:"saving_fraction"`
}

// VariantCost is what one variant would cost under a price model if every
// target ran it.
type VariantCost struct {
	Variant string `json:"variant"`
	// UsagePerHost is the billed quantity of one host per month, in the
	// model's unit (GB ingested, or active series).
	UsagePerHost float64 `json:"usage_per_host"`
	// Per host: list price, no free allowance.
	MonthlyPerHost float64 `json:"monthly_per_host_usd"`
	HourlyPerHost  float64 `json:"hourly_per_host_usd"`
	// For all targets: the free allowance deducted once.
	Monthly float64 `json:"monthly_usd"`
	Hourly  float64 `json:"hourly_usd"`
}

// Outcome is how a criterion was judged.
type Outcome string

// Check outcomes.
const (
	OutcomePass      Outcome = "pass"
	OutcomeFail      Outcome = "fail"
	OutcomeNotJudged Outcome = "not_judged"
)

// Verdict says whether the candidate met every criterion.
type Verdict struct {
	Pass bool `json:"pass"`
	// Checks holds one entry per criterion, judged or not.
	Checks []Check `json:"checks"`
}

// Check is one criterion's outcome with a human-readable reason, e.g.
// "series reduction 93.1% ≥ 50% required".
type Check struct {
	Criterion Criterion `json:"criterion"`
	Outcome   Outcome   `json:"outcome"`
	Reason    string    `json:"reason"`
}

// Criterion names a success criterion.
type Criterion string

// Criterion names.
const (
	CriterionSeriesReduction   Criterion = "min_series_reduction"
	CriterionCriticalRetention Criterion = "min_critical_retention"
	CriterionCPUIncrease       Criterion = "max_cpu_increase"
	CriterionCPUCoverage       Criterion = "min_cpu_coverage"
	CriterionBlindSpots        Criterion = "max_blind_spots_per_hour"
)

// VariantSeries are one variant's per-minute figures for charts: means per
// agent over the agents with a sample that minute.
type VariantSeries struct {
	Variant             string  `json:"variant"`
	ActiveSeries        []Point `json:"active_series"`
	DatapointsPerMinute []Point `json:"datapoints_per_minute"`
	BytesPerMinute      []Point `json:"bytes_per_minute"`
	// HourlyCostUSD holds, per price model name, the estimated hourly cost
	// for all targets at that minute's usage.
	HourlyCostUSD map[string][]Point `json:"hourly_cost_usd"`
}

// Point is one minute's value.
type Point struct {
	Minute time.Time `json:"minute"`
	Value  float64   `json:"value"`
}

// Variant returns the figures of the named variant.
func (r Results) Variant(name string) (VariantFigures, bool) {
	for _, v := range r.Variants {
		if v.Variant == name {
			return v, true
		}
	}
	return VariantFigures{}, false
}

// Criteria decide whether the candidate passes. Nil and zero values take the
// defaults documented per field; results show them as judged, defaults
// filled in.
type Criteria struct {
	// MinSeriesReduction is the least active-series reduction the candidate
	// must reach, a fraction in [0, 1]. Default 0: it must not add series.
	MinSeriesReduction float64 `json:"min_series_reduction,omitempty" yaml:"min_series_reduction"`
	// MinCriticalRetention is the least fraction of the baseline's critical
	// processes the candidate must keep, in [0, 1]. Nil means 1: all.
	MinCriticalRetention *float64 `json:"min_critical_retention,omitempty" yaml:"min_critical_retention"`
	// MaxCPUIncrease bounds the collector CPU increase (split mode only),
	// a fraction ≥ 0 (0.1 = +10%). Nil: the increase is reported, not judged.
	MaxCPUIncrease *float64 `json:"max_cpu_increase,omitempty" yaml:"max_cpu_increase"`
	// MinCPUCoverage is the least share of the processes' CPU time the
	// candidate must attribute to per-process series, in [0, 1]. Nil: the
	// coverage is reported, not judged.
	MinCPUCoverage *float64 `json:"min_cpu_coverage,omitempty" yaml:"min_cpu_coverage"`
	// MaxBlindSpotsPerHour bounds the candidate's blind spots (notable
	// processes it did not keep) per agent and hour, a finite number ≥ 0;
	// paired mode only. Nil: reported, not judged.
	MaxBlindSpotsPerHour *float64 `json:"max_blind_spots_per_hour,omitempty" yaml:"max_blind_spots_per_hour"`
}

// PriceUnit is what a price model bills by.
type PriceUnit string

// Units a price model bills by.
const (
	// UnitGBIngested bills the bytes exported (cost_meter's bytes figure),
	// 1 GB = 10^9 bytes, per month.
	UnitGBIngested PriceUnit = "gb_ingested"
	// UnitActiveSeries bills the mean active series, per month.
	UnitActiveSeries PriceUnit = "active_series"
)

// PriceModel is one vendor price: PriceUSD per Per units of Unit per month,
// the first FreePerMonth units (of all targets together) free.
type PriceModel struct {
	// Name identifies the model in specs, results and metric labels:
	// lower case letters, digits, '_' and '-'.
	Name string `yaml:"name" json:"name"`
	// Title is the human name; defaults to Name.
	Title string `yaml:"title" json:"title"`
	// Unit is what the model bills by.
	Unit PriceUnit `yaml:"unit" json:"unit"`
	// Per is the block of units PriceUSD buys (1 per GB, 1000 series, …).
	Per float64 `yaml:"per" json:"per"`
	// PriceUSD is the monthly price of Per units.
	PriceUSD float64 `yaml:"price_usd" json:"price_usd"`
	// FreePerMonth is the monthly free allowance in units (GB or series).
	FreePerMonth float64 `yaml:"free_per_month" json:"free_per_month"`
	// AsOf is the date of the price, YYYY-MM-DD.
	AsOf string `yaml:"as_of" json:"as_of"`
	// Source is where the price comes from (a URL or a document).
	Source string `yaml:"source" json:"source"`
	// Notes say what the price covers and what the model leaves out.
	Notes string `yaml:"notes" json:"notes,omitempty"`
}
