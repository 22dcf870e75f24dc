package report // import "github.com/phoenix/platform/opamp-server/report"

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Chart geometry in SVG user units; the SVG scales to the page width.
const (
	chartWidth   = 760
	chartHeight  = 290
	plotLeft     = 78
	plotRight    = chartWidth - 20
	plotTop      = 40
	plotBottom   = chartHeight - 50
	maxMarkers   = 90 // beyond this many points, markers only clutter
	legendStride = 150
)

// variantColors keep each variant's colour the same in every chart (blue
// and orange stay apart for the common colour-vision deficiencies).
var variantColors = map[string]string{
	apitypes.VariantBaseline:  "#1f5fbf",
	apitypes.VariantCandidate: "#d9660b",
}

// chart is a line chart, laid out for the template.
type chart struct {
	ID, Title, YLabel, XLabel string
	Width, Height             int
	Left, Right, Top, Bottom  float64
	XTicks, YTicks            []tick
	Lines                     []line
}

type tick struct {
	Pos   float64
	Label string
}

type line struct {
	Variant string
	Color   string
	// Points is the polyline's points attribute; Markers the same points
	// as circles (empty when there are too many to mark).
	Points  string
	Markers []xy
	// LegendX places the legend entry.
	LegendX float64
}

type xy struct{ X, Y float64 }

// charts lays out the report's charts: active series, then the hourly cost
// of each price model.
func charts(r *apitypes.Results) []chart {
	active := make(map[string][]apitypes.Point, len(r.Series))
	for _, s := range r.Series {
		active[s.Variant] = s.ActiveSeries
	}
	out := []chart{newChart("chart-active-series", "Active series per agent", "active series", formatAxisNumber, r.Series, active)}
	for _, c := range r.Costs {
		cost := make(map[string][]apitypes.Point, len(r.Series))
		for _, s := range r.Series {
			cost[s.Variant] = s.HourlyCostUSD[c.Model.Name]
		}
		out = append(out, newChart("chart-cost-"+c.Model.Name, "Estimated hourly cost, all targets — "+c.Model.Title,
			"USD per hour", formatAxisUSD, r.Series, cost))
	}
	return out
}

// newChart scales every variant's points into one plot: time on x, values
// on y from 0 (or the lowest negative value) to a round top.
func newChart(id, title, yLabel string, format func(float64) string, order []apitypes.VariantSeries, points map[string][]apitypes.Point) chart {
	c := chart{ID: id, Title: title, YLabel: yLabel, XLabel: "time (UTC)", Width: chartWidth, Height: chartHeight,
		Left: plotLeft, Right: plotRight, Top: plotTop, Bottom: plotBottom}
	var t0, t1 time.Time
	lo, hi := 0.0, 0.0
	for _, pts := range points {
		for _, p := range pts {
			if t0.IsZero() || p.Minute.Before(t0) {
				t0 = p.Minute
			}
			if p.Minute.After(t1) {
				t1 = p.Minute
			}
			lo, hi = min(lo, p.Value), max(hi, p.Value)
		}
	}
	if !t1.After(t0) { // one minute (or none): centre it
		t0, t1 = t0.Add(-time.Minute), t0.Add(time.Minute)
	}
	step := niceStep((hi - lo) / 4)
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	if hi <= lo {
		hi = lo + step
	}
	x := func(t time.Time) float64 {
		return plotLeft + float64(t.Sub(t0))/float64(t1.Sub(t0))*(plotRight-plotLeft)
	}
	y := func(v float64) float64 { return plotBottom - (v-lo)/(hi-lo)*(plotBottom-plotTop) }

	for v := lo; v <= hi+step/2; v += step {
		c.YTicks = append(c.YTicks, tick{round1(y(v)), format(v)})
	}
	for _, t := range timeTicks(t0, t1) {
		c.XTicks = append(c.XTicks, tick{round1(x(t.Time)), t.label})
	}
	for i, s := range order {
		pts := points[s.Variant]
		l := line{Variant: s.Variant, Color: colorOf(s.Variant, i), LegendX: plotLeft + float64(i)*legendStride}
		coords := make([]string, len(pts))
		for j, p := range pts {
			pt := xy{round1(x(p.Minute)), round1(y(p.Value))}
			coords[j] = strconv.FormatFloat(pt.X, 'f', -1, 64) + "," + strconv.FormatFloat(pt.Y, 'f', -1, 64)
			if len(pts) <= maxMarkers {
				l.Markers = append(l.Markers, pt)
			}
		}
		l.Points = strings.Join(coords, " ")
		c.Lines = append(c.Lines, l)
	}
	return c
}

// variantPalette colours the other variants (the candidates of an
// experiment with several) by their place in Results.Series, so that a
// candidate keeps its colour in every chart: the second place is the
// candidate's orange, as in an experiment with one.
var variantPalette = []string{"#4b5563", "#d9660b", "#2a9d4b", "#7c3aed", "#c2185b", "#0f8b8d"}

func colorOf(variant string, i int) string {
	if c, ok := variantColors[variant]; ok {
		return c
	}
	return variantPalette[i%len(variantPalette)]
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// niceStep rounds a raw tick step up to 1, 2, 2.5 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*pow {
			return m * pow
		}
	}
	return 10 * pow
}

type timeTick struct {
	time.Time
	label string
}

// timeTicks places at most about eight labels on whole, round minutes.
func timeTicks(t0, t1 time.Time) []timeTick {
	span := t1.Sub(t0)
	step := 24 * time.Hour
	for _, s := range []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour} {
		if span/s <= 8 {
			step = s
			break
		}
	}
	layout := "15:04"
	if span > 24*time.Hour {
		layout = "Jan 2 15:04"
	}
	var out []timeTick
	for t := t0.Truncate(step); !t.After(t1); t = t.Add(step) {
		if !t.Before(t0) {
			out = append(out, timeTick{t, t.UTC().Format(layout)})
		}
	}
	return out
}

// formatAxisNumber writes tick labels compactly: 7,500 → 7.5k.
func formatAxisNumber(f float64) string {
	a := math.Abs(f)
	switch {
	case a >= 1e6:
		return trimFloat(f/1e6) + "M"
	case a >= 1e4:
		return trimFloat(f/1e3) + "k"
	}
	return formatNumber(f)
}

func formatAxisUSD(f float64) string {
	if math.Abs(f) >= 1 || f == 0 {
		return "$" + formatAxisNumber(f)
	}
	return "$" + strconv.FormatFloat(f, 'g', 3, 64)
}

func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(f, 'f', 2, 64), "0"), ".")
}
