package analysis

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestCosts(t *testing.T) {
	t.Parallel()
	p := DefaultPrices()
	nr, _ := p.Model("new_relic")
	gc, _ := p.Model("grafana_cloud")
	dd, _ := p.Model("datadog")
	base := apitypes.Figures{Variant: apitypes.VariantBaseline, BytesPerMinute: 1e6, ActiveSeries: 7000}
	cand := apitypes.Figures{Variant: apitypes.VariantCandidate, BytesPerMinute: 1.2e5, ActiveSeries: 700}

	tests := []struct {
		name    string
		model   apitypes.PriceModel
		targets int
		// Per variant, baseline then candidate.
		usage, perHost, fleet [2]float64
	}{
		// 1e6 B/min × 43,200 min = 43.2 GB a month per host at $0.30;
		// one host stays within the free 100 GB.
		{"new relic, one host", nr, 1, [2]float64{43.2, 5.184}, [2]float64{12.96, 1.5552}, [2]float64{0, 0}},
		// Ten hosts: 432 GB − 100 free = 332 GB; candidate 51.84 GB, free.
		{"new relic, ten hosts", nr, 10, [2]float64{43.2, 5.184}, [2]float64{12.96, 1.5552}, [2]float64{99.6, 0}},
		// 7,000 series = 7 × $6.50; ten hosts 70 × $6.50.
		{"grafana cloud", gc, 10, [2]float64{7000, 700}, [2]float64{45.5, 4.55}, [2]float64{455, 45.5}},
		// 7,000 series = 70 × $5.
		{"datadog", dd, 2, [2]float64{7000, 700}, [2]float64{350, 35}, [2]float64{700, 70}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := costs([]apitypes.PriceModel{tt.model}, base, cand, tt.targets)
			require.Len(t, got, 1)
			c := got[0]
			assert.Equal(t, tt.model, c.Model)
			require.Len(t, c.Variants, 2)
			for i, v := range c.Variants {
				assert.Equal(t, []string{apitypes.VariantBaseline, apitypes.VariantCandidate}[i], v.Variant)
				assert.InDelta(t, tt.usage[i], v.UsagePerHost, 1e-9, "usage %s", v.Variant)
				assert.InDelta(t, tt.perHost[i], v.MonthlyPerHost, 1e-9, "monthly per host %s", v.Variant)
				assert.InDelta(t, tt.perHost[i]/720, v.HourlyPerHost, 1e-12, "hourly per host %s", v.Variant)
				assert.InDelta(t, tt.fleet[i], v.Monthly, 1e-9, "monthly %s", v.Variant)
				assert.InDelta(t, tt.fleet[i]/720, v.Hourly, 1e-12, "hourly %s", v.Variant)
			}
			assert.InDelta(t, tt.perHost[0]-tt.perHost[1], c.MonthlySavingPerHost, 1e-9)
			assert.InDelta(t, tt.fleet[0]-tt.fleet[1], c.MonthlySaving, 1e-9)
			assert.InDelta(t, (tt.fleet[0]-tt.fleet[1])/720, c.HourlySaving, 1e-12)
			if tt.fleet[0] > 0 {
				assert.InDelta(t, 1-tt.fleet[1]/tt.fleet[0], c.SavingFraction, 1e-9)
			} else {
				assert.Zero(t, c.SavingFraction)
			}
		})
	}
}

func TestAnalyzeCostsFollowPriceModels(t *testing.T) {
	t.Parallel()
	in := pairedInput(3, pairedAgent("a1", 3, baseline, candidate))
	in.PriceModels = []string{"datadog"}
	res, err := Analyze(in)
	require.NoError(t, err)
	require.Len(t, res.Costs, 1)
	assert.Equal(t, "datadog", res.Costs[0].Model.Name)
	assert.InDelta(t, 315, res.Costs[0].MonthlySaving, 1e-9)
	assert.Len(t, res.Series[0].HourlyCostUSD, 1)

	in.PriceModels = nil
	res, err = Analyze(in)
	require.NoError(t, err)
	assert.Len(t, res.Costs, 3, "no names: every model")
}

func TestAnalyzeCustomPriceTable(t *testing.T) {
	t.Parallel()
	in := pairedInput(3, pairedAgent("a1", 3, baseline, candidate))
	in.Prices = PriceTable{Models: []apitypes.PriceModel{{Name: "acme", Unit: apitypes.UnitActiveSeries, Per: 1000, PriceUSD: 1, AsOf: "2026-01-01", Source: "contract"}}}
	res, err := Analyze(in)
	require.NoError(t, err)
	require.Len(t, res.Costs, 1)
	assert.Equal(t, "acme", res.Costs[0].Model.Title, "title defaults to the name")
	assert.InDelta(t, 7, res.Costs[0].Variants[0].MonthlyPerHost, 1e-9)
}
