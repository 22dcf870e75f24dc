package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestDefaultPrices(t *testing.T) {
	t.Parallel()
	p := DefaultPrices()
	require.NoError(t, p.Validate())
	want := map[string]struct {
		unit             apitypes.PriceUnit
		per, price, free float64
	}{
		"new_relic":     {apitypes.UnitGBIngested, 1, 0.30, 100},
		"grafana_cloud": {apitypes.UnitActiveSeries, 1000, 6.50, 0},
		"datadog":       {apitypes.UnitActiveSeries, 100, 5.00, 0},
	}
	require.Len(t, p.Models, len(want))
	for _, m := range p.Models {
		w, ok := want[m.Name]
		require.True(t, ok, m.Name)
		assert.Equal(t, w.unit, m.Unit, m.Name)
		assert.Equal(t, w.per, m.Per, m.Name)
		assert.Equal(t, w.price, m.PriceUSD, m.Name)
		assert.Equal(t, w.free, m.FreePerMonth, m.Name)
		assert.NotEmpty(t, m.Title, m.Name)
		assert.NotEmpty(t, m.Source, m.Name)
		assert.NotEmpty(t, m.Notes, m.Name)
		assert.Regexp(t, `^\d{4}-\d{2}-\d{2}$`, m.AsOf, m.Name)
	}
	// Callers get a copy.
	p.Models[0].PriceUSD = 99
	assert.Equal(t, 0.30, DefaultPrices().Models[0].PriceUSD)
}

const validModel = `
  - name: acme
    unit: active_series
    per: 1000
    price_usd: 2
    as_of: "2026-01-31"
    source: contract 42
`

func TestLoadPrices(t *testing.T) {
	t.Parallel()
	p, err := LoadPrices(strings.NewReader("models:" + validModel))
	require.NoError(t, err)
	require.Len(t, p.Models, 1)
	assert.Equal(t, apitypes.PriceModel{Name: "acme", Title: "acme", Unit: apitypes.UnitActiveSeries, Per: 1000, PriceUSD: 2,
		AsOf: "2026-01-31", Source: "contract 42"}, p.Models[0], "title defaults to the name")

	// JSON is YAML.
	p, err = LoadPrices(strings.NewReader(`{"models":[{"name":"j","unit":"gb_ingested","per":1,"price_usd":0.1,"as_of":"2026-01-01","source":"s"}]}`))
	require.NoError(t, err)
	assert.Equal(t, "j", p.Models[0].Name)
}

func TestLoadPricesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", "price table: empty document"},
		{"no models", "models: []", "price table: models: at least one model is required"},
		{"unknown key", "models:" + validModel + "    currency: EUR\n", "field currency not found"},
		{"second document", "models:" + validModel + "---\nmodels: []\n", "want a single YAML document"},
		{"duplicate name", "models:" + validModel + validModel, `models[1] (acme): name: "acme" is used by another model`},
		{"bad name", "models:" + strings.Replace(validModel, "acme", "Acme Corp", 1), `models[0] (Acme Corp): name: "Acme Corp" must be`},
		{"no name", "models:" + strings.Replace(validModel, "name: acme", "title: x", 1), `models[0]: name: "" must be`},
		{"unknown unit", "models:" + strings.Replace(validModel, "active_series", "datapoints", 1),
			`models[0] (acme): unit: "datapoints" is not gb_ingested or active_series (one unit per model)`},
		{"zero per", "models:" + strings.Replace(validModel, "per: 1000", "per: 0", 1), "models[0] (acme): per: must be a positive number"},
		{"no price", "models:" + strings.Replace(validModel, "price_usd: 2", "price_usd: -2", 1), "models[0] (acme): price_usd: must be positive, got -2"},
		{"negative allowance", "models:" + validModel + "    free_per_month: -1\n", "models[0] (acme): free_per_month: must be a finite number ≥ 0, got -1"},
		{"bad date", "models:" + strings.Replace(validModel, "2026-01-31", "31/01/2026", 1), `models[0] (acme): as_of: want a date YYYY-MM-DD, got "31/01/2026"`},
		{"no source", "models:" + strings.Replace(validModel, "source: contract 42", "notes: n", 1), "models[0] (acme): source: required"},
		{"not yaml", "models: [", "price table: yaml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadPrices(strings.NewReader(tt.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestLoadPricesFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "prices.yaml")
	require.NoError(t, os.WriteFile(good, []byte("models:"+validModel), 0o600))
	p, err := LoadPricesFile(good)
	require.NoError(t, err)
	assert.Equal(t, "acme", p.Models[0].Name)

	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("models: []"), 0o600))
	_, err = LoadPricesFile(bad)
	assert.ErrorContains(t, err, bad+": price table: models")

	_, err = LoadPricesFile(filepath.Join(dir, "missing.yaml"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestSelect(t *testing.T) {
	t.Parallel()
	p := DefaultPrices()
	all, err := p.Select(nil)
	require.NoError(t, err)
	assert.Equal(t, p.Models, all)

	two, err := p.Select([]string{"datadog", "new_relic"})
	require.NoError(t, err)
	require.Len(t, two, 2)
	assert.Equal(t, "datadog", two[0].Name, "order as asked")
	assert.Equal(t, "new_relic", two[1].Name)

	_, err = p.Select([]string{"datadog", "datadog"})
	assert.ErrorContains(t, err, `price_models: "datadog" is listed twice`)
	_, err = p.Select([]string{"nope"})
	assert.ErrorContains(t, err, `price_models: unknown model "nope" (known: new_relic, grafana_cloud, datadog)`)
}
