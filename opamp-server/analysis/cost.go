package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

// A month is 30 days: per-minute figures scale by MinutesPerMonth, monthly
// costs divide by HoursPerMonth for an hourly figure.
const (
	MinutesPerMonth = 43200
	HoursPerMonth   = 720
	bytesPerGB      = 1e9
)

// monthlyUsage is one host's billed quantity per month in the model's unit:
// GB ingested from the bytes rate, or the active series level.
func (m PriceModel) monthlyUsage(bytesPerMinute, activeSeries float64) float64 {
	if m.Unit == UnitGBIngested {
		return bytesPerMinute * MinutesPerMonth / bytesPerGB
	}
	return activeSeries
}

// cost is the list price of a monthly usage, no allowance.
func (m PriceModel) cost(usage float64) float64 { return usage / m.Per * m.PriceUSD }

// fleetCost is the monthly cost of hosts hosts using usagePerHost each, the
// free allowance deducted once from the total.
func (m PriceModel) fleetCost(usagePerHost float64, hosts int) float64 {
	return m.cost(max(0, usagePerHost*float64(hosts)-m.FreePerMonth))
}

// variantCost is what one variant costs per host and for all targets.
func (m PriceModel) variantCost(f Figures, targets int) VariantCost {
	usage := m.monthlyUsage(f.BytesPerMinute, f.ActiveSeries)
	c := VariantCost{Variant: f.Variant, UsagePerHost: usage, MonthlyPerHost: m.cost(usage), Monthly: m.fleetCost(usage, targets)}
	c.HourlyPerHost = c.MonthlyPerHost / HoursPerMonth
	c.Hourly = c.Monthly / HoursPerMonth
	return c
}

// costs estimates every model for both variants, as if all targets ran each.
func costs(models []PriceModel, base, cand Figures, targets int) []ModelCost {
	out := make([]ModelCost, 0, len(models))
	for _, m := range models {
		b, c := m.variantCost(base, targets), m.variantCost(cand, targets)
		mc := ModelCost{
			Model:                m,
			Variants:             []VariantCost{b, c},
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
