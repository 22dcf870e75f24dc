package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Analyze computes an experiment's results from its targets' samples: it
// reads each agent's series within the window, takes reset-aware rates and
// gauge means over the minutes in which all of them were reported, compares
// the variants, prices both and judges the candidate. Errors wrap
// ErrInvalidInput or ErrInsufficientData and name the agent and series.
func Analyze(in Input) (apitypes.Results, error) {
	if err := in.validate(); err != nil {
		return apitypes.Results{}, err
	}
	table := in.Prices
	if len(table.Models) == 0 {
		table = DefaultPrices()
	} else if err := table.Validate(); err != nil {
		return apitypes.Results{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	models, err := table.Select(in.PriceModels)
	if err != nil {
		return apitypes.Results{}, fmt.Errorf("%w: %w", ErrInvalidInput, err)
	}
	for i := range models { // a table built in code may leave titles out
		if models[i].Title == "" {
			models[i].Title = models[i].Name
		}
	}

	// A target whose samples cannot support figures is left out, up to
	// MaxExcludedShare of the targets (exclude.go); anything else wrong
	// with the input fails the analysis.
	var ex exclusions
	agents := make([]AgentInput, 0, len(in.Agents))
	data := make([]*agentData, 0, len(in.Agents))
	var invalid []error
	for _, a := range in.Agents {
		d, err := extractAgent(a, in.Mode, in.From, in.To)
		switch {
		case err == nil:
			agents, data = append(agents, a), append(data, d)
		case errors.Is(err, ErrInsufficientData):
			ex.add(a.InstanceUID, err)
		default:
			invalid = append(invalid, err)
		}
	}
	if err := errors.Join(invalid...); err != nil {
		return apitypes.Results{}, err
	}

	res := apitypes.Results{
		Mode: in.Mode, From: in.From, To: in.To, Targets: len(in.Agents),
		Criteria: withDefaults(in.Criteria),
	}
	byVariant := map[string][]apitypes.Figures{}
	kept := data[:0]
	for i, a := range agents {
		af, err := agentFigures(in.Mode, a, data[i])
		if err != nil {
			ex.add(a.InstanceUID, err)
			continue
		}
		for _, f := range af.Variants {
			byVariant[f.Variant] = append(byVariant[f.Variant], f)
		}
		res.Agents = append(res.Agents, af)
		agents[len(kept)] = a
		kept = append(kept, data[i])
	}
	agents, data = agents[:len(kept)], kept
	if err := ex.check(in.Mode, len(in.Agents), byVariant); err != nil {
		return apitypes.Results{}, err
	}
	res.Excluded, res.ExcludedAgents = ex.n, ex.agents
	for _, v := range variants {
		res.Variants = append(res.Variants, meanFigures(v, byVariant[v]))
	}
	if res.Derived, err = derive(in.Mode, res.Agents, byVariant[apitypes.VariantBaseline], byVariant[apitypes.VariantCandidate]); err != nil {
		return apitypes.Results{}, err
	}
	res.Costs = costs(models, res.Variants[0].Figures, res.Variants[1].Figures, res.Targets)
	res.Fidelity = fidelity(in.Mode, data)
	res.Verdict = judge(in.Mode, res.Criteria, res.Derived, res.Fidelity)
	res.Series = chartSeries(agents, data, models, res.Targets)
	res.Warnings = append(ex.warnings(len(in.Agents)), warnings(data)...)
	return res, nil
}

// agentFigures are one agent's figures and, in paired mode, its reductions.
func agentFigures(mode apitypes.Mode, a AgentInput, d *agentData) (apitypes.AgentFigures, error) {
	af := apitypes.AgentFigures{
		InstanceUID: a.InstanceUID,
		From:        time.Unix(d.minutes[0], 0).UTC(),
		To:          time.Unix(d.minutes[len(d.minutes)-1], 0).UTC(),
		Minutes:     len(d.minutes),
	}
	for _, v := range variants {
		if slices.Contains(a.Variants, v) {
			af.Variants = append(af.Variants, d.figures(mode, v))
		}
	}
	if mode != apitypes.ModePaired {
		return af, nil
	}
	b, c := af.Variants[0], af.Variants[1]
	who := "agent " + a.InstanceUID
	var err error
	if af.SeriesReduction, err = reduction(who, SeriesActiveSeries, b.ActiveSeries, c.ActiveSeries); err != nil {
		return af, err
	}
	if af.DatapointsReduction, err = reduction(who, SeriesDatapoints, b.DatapointsPerMinute, c.DatapointsPerMinute); err != nil {
		return af, err
	}
	if af.BytesReduction, err = reduction(who, SeriesBytes, b.BytesPerMinute, c.BytesPerMinute); err != nil {
		return af, err
	}
	retention, _ := criticalRetention(b.CriticalProcesses, c.CriticalProcesses)
	af.CriticalRetention = &retention
	return af, nil
}

// reduction is 1 − cand/base; a zero baseline leaves nothing to compare.
func reduction(who, series string, base, cand float64) (*float64, error) {
	if base == 0 {
		return nil, zeroBaseline(who, seriesLabel(series, apitypes.VariantBaseline))
	}
	return ptr(1 - cand/base), nil
}

func zeroBaseline(who, series string) error {
	return fmt.Errorf("%w: %s: %s is 0 over the window: nothing to compare the candidate with",
		ErrInsufficientData, who, series)
}

// criticalRetention is cand/base, or 1 when the baseline saw no critical
// process (there was nothing to lose).
func criticalRetention(base, cand float64) (retention float64, baselineSawNone bool) {
	if base == 0 {
		return 1, true
	}
	return cand / base, false
}

func meanFigures(variant string, fs []apitypes.Figures) apitypes.VariantFigures {
	of := func(get func(apitypes.Figures) float64) float64 { return mean(values(fs, get)) }
	v := apitypes.VariantFigures{Agents: len(fs), Figures: apitypes.Figures{
		Variant:                   variant,
		DatapointsPerMinute:       of(datapointsPerMinute),
		BytesPerMinute:            of(bytesPerMinute),
		ProcessResourcesPerMinute: of(func(f apitypes.Figures) float64 { return f.ProcessResourcesPerMinute }),
		ActiveSeries:              of(activeSeries),
		CriticalProcesses:         of(criticalProcesses),
	}}
	if len(fs) > 0 && fs[0].CPUCores != nil {
		v.CPUCores = ptr(of(cpuCores))
		v.MemoryRSSBytes = ptr(of(memoryRSS))
	}
	return v
}

func activeSeries(f apitypes.Figures) float64        { return f.ActiveSeries }
func datapointsPerMinute(f apitypes.Figures) float64 { return f.DatapointsPerMinute }
func bytesPerMinute(f apitypes.Figures) float64      { return f.BytesPerMinute }
func criticalProcesses(f apitypes.Figures) float64   { return f.CriticalProcesses }
func cpuCores(f apitypes.Figures) float64            { return *f.CPUCores }
func memoryRSS(f apitypes.Figures) float64           { return *f.MemoryRSSBytes }

func values[T any](xs []T, get func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = get(x)
	}
	return out
}

// derive compares the variants: in paired mode from the per-agent
// reductions, in split mode from the ratio of cohort means.
func derive(mode apitypes.Mode, agents []apitypes.AgentFigures, base, cand []apitypes.Figures) (apitypes.Derived, error) {
	var d apitypes.Derived
	d.CriticalRetention, d.BaselineSawNoCritical = criticalRetention(
		mean(values(base, criticalProcesses)), mean(values(cand, criticalProcesses)))
	if mode == apitypes.ModePaired {
		var series, datapoints, byts []float64
		for _, a := range agents {
			series = append(series, *a.SeriesReduction)
			datapoints = append(datapoints, *a.DatapointsReduction)
			byts = append(byts, *a.BytesReduction)
		}
		d.SeriesReduction = pairedEstimate(series)
		d.DatapointsReduction = pairedEstimate(datapoints)
		d.BytesReduction = pairedEstimate(byts)
		return d, nil
	}
	var errs []error
	compare := func(series string, get func(apitypes.Figures) float64, sign float64) apitypes.Estimate {
		b, c := values(base, get), values(cand, get)
		if mean(b) == 0 {
			errs = append(errs, zeroBaseline("baseline cohort", series))
			return apitypes.Estimate{}
		}
		return ratioEstimate(b, c, sign)
	}
	const reduce, increase = -1, +1
	meter := func(name string) string { return seriesLabel(name, apitypes.VariantBaseline) }
	d.SeriesReduction = compare(meter(SeriesActiveSeries), activeSeries, reduce)
	d.DatapointsReduction = compare(meter(SeriesDatapoints), datapointsPerMinute, reduce)
	d.BytesReduction = compare(meter(SeriesBytes), bytesPerMinute, reduce)
	d.CPUIncrease = ptr(compare(SeriesCPUSeconds, cpuCores, increase))
	d.MemoryIncrease = ptr(compare(SeriesMemoryRSS, memoryRSS, increase))
	return d, errors.Join(errs...)
}

// chartSeries are the per-minute figures of each variant: means over the
// agents with that minute, and each model's hourly cost for all targets at
// that minute's usage.
func chartSeries(agents []AgentInput, data []*agentData, models []apitypes.PriceModel, targets int) []apitypes.VariantSeries {
	out := make([]apitypes.VariantSeries, 0, len(variants))
	for _, v := range variants {
		active, dps, byts := map[int64][]float64{}, map[int64][]float64{}, map[int64][]float64{}
		for i, a := range agents {
			if !slices.Contains(a.Variants, v) {
				continue
			}
			collect(active, data[i].gaugePoints(seriesKey{SeriesActiveSeries, v}))
			collect(dps, data[i].ratePoints(seriesKey{SeriesDatapoints, v}))
			collect(byts, data[i].ratePoints(seriesKey{SeriesBytes, v}))
		}
		vs := apitypes.VariantSeries{Variant: v, ActiveSeries: meanPoints(active), DatapointsPerMinute: meanPoints(dps),
			BytesPerMinute: meanPoints(byts), HourlyCostUSD: map[string][]apitypes.Point{}}
		for _, m := range models {
			usage := vs.ActiveSeries
			if m.Unit == apitypes.UnitGBIngested {
				usage = vs.BytesPerMinute
			}
			pts := make([]apitypes.Point, len(usage))
			for i, p := range usage {
				monthly := fleetCost(m, monthlyUsage(m, p.Value, p.Value), targets)
				pts[i] = apitypes.Point{Minute: p.Minute, Value: monthly / HoursPerMonth}
			}
			vs.HourlyCostUSD[m.Name] = pts
		}
		out = append(out, vs)
	}
	return out
}

func collect(into map[int64][]float64, pts []point) {
	for _, p := range pts {
		into[p.minute] = append(into[p.minute], p.value)
	}
}

func meanPoints(byMinute map[int64][]float64) []apitypes.Point {
	out := make([]apitypes.Point, 0, len(byMinute))
	for _, m := range slices.Sorted(maps.Keys(byMinute)) {
		out = append(out, apitypes.Point{Minute: time.Unix(m, 0).UTC(), Value: mean(byMinute[m])})
	}
	return out
}

// warnings note what makes figures less certain: collector restarts within
// the window and active-series overflow, the first maxListed of them.
func warnings(data []*agentData) []string {
	out := agentWarnings(data)
	if len(out) > maxListed {
		out = append(out[:maxListed], fmt.Sprintf("and %d more warnings like these", len(out)-maxListed))
	}
	return out
}

func agentWarnings(data []*agentData) []string {
	var out []string
	for _, d := range data {
		if len(d.resetMinutes) > 0 {
			at := make([]string, len(d.resetMinutes))
			for i, m := range d.resetMinutes {
				at[i] = time.Unix(m, 0).UTC().Format(time.RFC3339)
			}
			out = append(out, fmt.Sprintf("agent %s: counters restarted at %s (collector restart); growth after a restart counts from 0",
				d.uid, strings.Join(at, ", ")))
		}
		for _, v := range slices.SortedFunc(maps.Keys(d.overflow), cmp.Compare) {
			out = append(out, fmt.Sprintf("agent %s: %s grew by %g in the window: its active series are lower bounds",
				d.uid, seriesLabel(SeriesActiveSeriesOverflow, v), d.overflow[v]))
		}
	}
	return out
}
