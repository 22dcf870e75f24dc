package report // import "github.com/phoenix/platform/opamp-server/report"

import (
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

var funcs = template.FuncMap{
	"num":       formatNumber,
	"usd":       formatUSD,
	"price":     formatPrice,
	"bytes":     formatBytes,
	"pct":       formatPercent,
	"interval":  formatInterval,
	"when":      formatTime,
	"iso":       func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"inc":       func(i int) int { return i + 1 },
	"sub":       func(a, b int) int { return a - b },
	"change":    change,
	"deref":     func(f *float64) float64 { return *f },
	"derefBool": func(b *bool) bool { return *b },
	"symbol":    outcomeSymbol,
	"unit":      unitLabel,
	"method":    methodLabel,
	"upper":     strings.ToUpper,
	"plural":    plural,
	"failed":    failedChecks,
	"pct2":      func(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + "%" },
	"quantity":  formatQuantity,
	"peak":      formatPeak,
	"estimateRow": func(name string, e apitypes.Estimate) estimateRow {
		return estimateRow{name, e}
	},
}

// estimateRow is one row of the reductions table.
type estimateRow struct {
	Name     string
	Estimate apitypes.Estimate
}

// formatNumber writes a figure for people: thousands grouped, decimals only
// where they carry information (7,000 · 45.5 · 0.0165).
func formatNumber(f float64) string {
	a := math.Abs(f)
	switch {
	case a >= 100:
		return group(strconv.FormatFloat(math.Round(f), 'f', 0, 64))
	case a >= 1:
		return strings.TrimSuffix(strings.TrimRight(strconv.FormatFloat(f, 'f', 1, 64), "0"), ".")
	case a == 0:
		return "0"
	default:
		return strconv.FormatFloat(f, 'g', 3, 64)
	}
}

// group inserts thousands separators into an integer's digits.
func group(digits string) string {
	sign := ""
	if strings.HasPrefix(digits, "-") {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return sign + b.String()
}

// formatUSD writes dollars: cents from $1, four decimals below (hourly
// costs of one host are fractions of a cent).
func formatUSD(f float64) string {
	sign := ""
	if f < 0 {
		sign, f = "−", -f
	}
	if f >= 1 || f == 0 {
		whole, cents := math.Modf(math.Round(f*100) / 100)
		return sign + "$" + group(strconv.FormatFloat(whole, 'f', 0, 64)) +
			strings.TrimPrefix(strconv.FormatFloat(cents, 'f', 2, 64), "0")
	}
	return sign + "$" + strconv.FormatFloat(f, 'f', 4, 64)
}

// formatPrice writes a list price with cents and any finer digits it has:
// $0.30, $6.50, $0.025.
func formatPrice(f float64) string {
	s := strconv.FormatFloat(f, 'f', -1, 64)
	whole, frac, _ := strings.Cut(s, ".")
	for len(frac) < 2 {
		frac += "0"
	}
	return "$" + group(whole) + "." + frac
}

// formatBytes writes a byte count in decimal units (1 kB = 1,000 B), as the
// per-GB price models count.
func formatBytes(f float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for math.Abs(f) >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return formatNumber(f) + " B"
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

// formatPercent writes a fraction as a percentage with one decimal.
func formatPercent(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" }

func formatInterval(i *apitypes.Interval) string {
	if i == nil {
		return "—"
	}
	return formatPercent(i.Low) + " to " + formatPercent(i.High)
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// change is cand/base − 1 as a signed percentage, "—" without a baseline.
func change(base, cand float64) string {
	if base == 0 {
		return "—"
	}
	s := formatPercent(cand/base - 1)
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return strings.Replace(s, "-", "−", 1)
}

func outcomeSymbol(outcome apitypes.Outcome) string {
	switch outcome {
	case apitypes.OutcomePass:
		return "✓"
	case apitypes.OutcomeFail:
		return "✗"
	}
	return "–"
}

func unitLabel(m apitypes.PriceModel) string {
	per := formatNumber(m.Per)
	switch m.Unit {
	case apitypes.UnitGBIngested:
		if m.Per == 1 {
			return "per GB ingested"
		}
		return "per " + per + " GB ingested"
	case apitypes.UnitActiveSeries:
		return "per " + per + " active series per month"
	}
	return "per " + per + " " + string(m.Unit)
}

func methodLabel(method apitypes.IntervalMethod) string {
	switch method {
	case apitypes.MethodPairedT:
		return "paired t"
	case apitypes.MethodDeltaWelch:
		return "delta method (Welch df)"
	}
	return string(method)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func failedChecks(v apitypes.Verdict) int {
	n := 0
	for _, c := range v.Checks {
		if c.Outcome == apitypes.OutcomeFail {
			n++
		}
	}
	return n
}

// formatQuantity writes a conserved total in its unit.
func formatQuantity(q string, v float64) string {
	switch q {
	case apitypes.QuantityCPU:
		return formatNumber(v) + " CPU s"
	case apitypes.QuantityMemory:
		return formatBytes(v) + "·scrapes"
	case apitypes.QuantityDisk, apitypes.QuantityNetwork:
		return formatBytes(v)
	}
	return formatNumber(v) + " process-scrapes"
}

// formatPeak writes a blind spot's peak: cores or bytes.
func formatPeak(e apitypes.BlindSpotExample) string {
	if e.Resource == apitypes.ResourceCPU {
		return formatNumber(e.Peak) + " cores"
	}
	return formatBytes(e.Peak)
}
