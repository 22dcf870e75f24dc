package report // import "github.com/phoenix/platform/opamp-server/report"

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// candidatesView is the section of an experiment with several candidates:
// the cost/coverage chart and the ranking.
type candidatesView struct {
	// Chart is nil without a price model: there is no cost to plot.
	Chart *paretoChart
	// NotPlaced are the candidates the chart leaves out: no CPU coverage.
	NotPlaced []string
	// Model is the price model the costs are under.
	Model       string
	Rows        []candidateRow
	Recommended string
	// First is the first ranked, whose figures the rest of the report shows.
	First string
}

// candidateRow is one row of the ranking.
type candidateRow struct {
	Rank                               int
	Name, Pipeline                     string
	SeriesReduction                    float64
	CPUCoverage, BlindSpots, Monthly   *float64
	Conserved                          *bool
	Pass, ParetoOptimal, IsRecommended bool
	Failed                             []string
}

// paretoChart is cost (y) against CPU coverage (x), laid out for the
// template.
type paretoChart struct {
	ID, Title, XLabel, YLabel string
	Width, Height             int
	Left, Right, Top, Bottom  float64
	XTicks, YTicks            []tick
	Points                    []paretoPoint
	// Front joins the Pareto-optimal candidates, by coverage.
	Front string
}

// paretoPoint is the baseline or a candidate on the chart.
type paretoPoint struct {
	Name           string
	X, Y           float64
	Coverage, Cost float64
	Color          string
	// Anchor and DX put the label beside the point, inward from the edge.
	Anchor      string
	DX          float64
	Baseline    bool
	Optimal     bool
	Recommended bool
}

// newCandidatesView lays out the candidates of r; nil for a single one.
func newCandidatesView(r *apitypes.Results) *candidatesView {
	if len(r.Candidates) == 0 {
		return nil
	}
	v := &candidatesView{Recommended: r.Recommended, First: r.Candidates[0].Name}
	for _, c := range r.Candidates {
		row := candidateRow{Rank: c.Rank, Name: c.Name, Pipeline: apitypes.PipelineText(c.Pipeline, c.Parameters),
			SeriesReduction: c.Derived.SeriesReduction.Value, Pass: c.Verdict.Pass, ParetoOptimal: c.ParetoOptimal,
			IsRecommended: c.Name == r.Recommended && r.Recommended != ""}
		if f := c.Fidelity; f != nil {
			row.CPUCoverage, row.BlindSpots, row.Conserved = f.CPUCoverage, f.BlindSpotsPerHour, f.Conserved
		}
		if m, ok := c.Monthly(); ok {
			row.Monthly = &m
		}
		for _, ch := range c.Verdict.Checks {
			if ch.Outcome == apitypes.OutcomeFail {
				row.Failed = append(row.Failed, ch.Reason)
			}
		}
		v.Rows = append(v.Rows, row)
		if row.CPUCoverage == nil {
			v.NotPlaced = append(v.NotPlaced, c.Name)
		}
	}
	model, base, ok := baselineMonthly(r)
	v.Model = model
	if ok {
		v.Chart = newParetoChart(r, model, base)
	}
	return v
}

// newParetoChart places the baseline (all its CPU in per-process series,
// its cost) and every candidate with a CPU coverage figure.
func newParetoChart(r *apitypes.Results, model string, baseCost float64) *paretoChart {
	c := &paretoChart{ID: "chart-candidates", Title: "Monthly cost against CPU coverage — " + model,
		XLabel: "CPU coverage", YLabel: "USD per month, all targets", Width: chartWidth, Height: chartHeight,
		Left: plotLeft, Right: plotRight, Top: plotTop, Bottom: plotBottom}
	order := map[string]int{}
	for i, s := range r.Series {
		order[s.Variant] = i
	}
	colour := func(name string, fallback int) string {
		if i, ok := order[name]; ok {
			return colorOf(name, i)
		}
		return colorOf(name, fallback)
	}
	points := []paretoPoint{{Name: apitypes.VariantBaseline, Coverage: 1, Cost: baseCost, Baseline: true,
		Color: colour(apitypes.VariantBaseline, 0)}}
	for i, cr := range r.Candidates {
		m, ok := cr.Monthly()
		if !ok || cr.Fidelity == nil || cr.Fidelity.CPUCoverage == nil {
			continue
		}
		points = append(points, paretoPoint{Name: cr.Name, Coverage: *cr.Fidelity.CPUCoverage, Cost: m,
			Optimal: cr.ParetoOptimal, Recommended: cr.Name == r.Recommended && r.Recommended != "",
			Color: colour(cr.Name, len(r.Series)+i)})
	}
	hi := 0.0
	for _, p := range points {
		hi = max(hi, p.Cost)
	}
	step := niceStep(hi / 4)
	hi = max(step, math.Ceil(hi/step)*step)
	x := func(cov float64) float64 { return plotLeft + min(max(cov, 0), 1)*(plotRight-plotLeft) }
	y := func(v float64) float64 { return plotBottom - v/hi*(plotBottom-plotTop) }
	for v := 0.0; v <= hi+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{round1(y(v)), formatAxisUSD(v)})
	}
	for pct := 0; pct <= 100; pct += 20 {
		c.XTicks = append(c.XTicks, tick{round1(x(float64(pct) / 100)), strconv.Itoa(pct) + "%"})
	}
	var front []paretoPoint
	for i := range points {
		points[i].X, points[i].Y = round1(x(points[i].Coverage)), round1(y(points[i].Cost))
		points[i].Anchor, points[i].DX = "start", 8
		if points[i].X > (plotLeft+plotRight)/2 {
			points[i].Anchor, points[i].DX = "end", -8
		}
		if points[i].Optimal {
			front = append(front, points[i])
		}
	}
	slices.SortStableFunc(front, func(a, b paretoPoint) int { return cmp.Compare(a.X, b.X) })
	coords := make([]string, len(front))
	for i, p := range front {
		coords[i] = strconv.FormatFloat(p.X, 'f', -1, 64) + "," + strconv.FormatFloat(p.Y, 'f', -1, 64)
	}
	c.Front, c.Points = strings.Join(coords, " "), points
	return c
}

// baselineMonthly is the first price model's title and the baseline's
// monthly cost for all targets under it.
func baselineMonthly(r *apitypes.Results) (string, float64, bool) {
	costs := r.Costs
	if len(costs) == 0 {
		costs = r.Candidates[0].Costs
	}
	if len(costs) == 0 {
		return "", 0, false
	}
	model := cmp.Or(costs[0].Model.Title, costs[0].Model.Name)
	for _, vc := range costs[0].Variants {
		if vc.Variant == apitypes.VariantBaseline {
			return model, vc.Monthly, true
		}
	}
	return model, 0, false
}
