package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import "github.com/phoenix/platform/opamp-server/apitypes" // A month is 30 days: per-minute figures scale by MinutesPerMonth, monthly
// costs divide by HoursPerMonth for an hourly figure.
const (
	MinutesPerMonth = 43200
	HoursPerMonth   = 720
	bytesPerGB      = 1e9
)

// monthlyUsage is one host's billed quantity per month in the model's unit:
// GB ingested from the bytes rate, or the active series level.
func monthlyUsage(m apitypes.PriceModel, bytesPerMinute, activeSeries float64) float64 {
	if m.Unit == apitypes.UnitGBIngested {
		return bytesPerMinute * MinutesPerMonth / bytesPerGB
	}
	return activeSeries
}

// cost is the list price of a monthly usage, no allowance.
func cost(m apitypes.PriceModel, usage float64) float64 { return usage / m.Per * m.PriceUSD }

// fleetCost is the monthly cost of hosts hosts using usagePerHost each, the
// free allowance deducted once from the total.
func fleetCost(m apitypes.PriceModel, usagePerHost float64, hosts int) float64 {
	return cost(m, max(0, usagePerHost*float64(hosts)-m.FreePerMonth))
}

// variantCost is what one variant costs per host and for all targets.
func variantCost(m apitypes.PriceModel, f apitypes.Figures, targets int) apitypes.VariantCost {
	usage := monthlyUsage(m, f.BytesPerMinute, f.ActiveSeries)
	c := apitypes.VariantCost{Variant: f.Variant, UsagePerHost: usage, MonthlyPerHost: cost(m, usage), Monthly: fleetCost(m, usage, targets)}
	c.HourlyPerHost = c.MonthlyPerHost / HoursPerMonth
	c.Hourly = c.Monthly / HoursPerMonth
	return c
}

// costs estimates every model for both variants, as if all targets ran each.
func costs(models []apitypes.PriceModel, base, cand apitypes.Figures, targets int) []apitypes.ModelCost {
	out := make([]apitypes.ModelCost, 0, len(models))
	for _, m := range models {
		b, c := variantCost(m, base, targets), variantCost(m, cand, targets)
		mc := apitypes.ModelCost{
			Model:                m,
			Variants:             []apitypes.VariantCost{b, c},
			MonthlySavingPerHost: b.MonthlyPerHost - c.MonthlyPerHost,
			MonthlySaving:        b.Monthly - c.Monthly,
			HourlySaving:         b.Hourly - c.Hourly,
		}
		if b.Monthly > 0 {
			mc.SavingFraction = mc.MonthlySaving / b.Monthly
		}
		out = append(out, mc)
	}
	return out
}
