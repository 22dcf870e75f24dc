package analysis // import "github.com/phoenix/platform/opamp-server/analysis"

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// PriceTable is the set of price models costs are estimated with.
type PriceTable struct {
	Models []apitypes.PriceModel `yaml:"models" json:"models"`
}

//go:embed prices.yaml
var defaultPricesYAML []byte

var defaultPrices = sync.OnceValue(func() PriceTable {
	t, err := LoadPrices(bytes.NewReader(defaultPricesYAML))
	if err != nil {
		panic("analysis: embedded prices.yaml: " + err.Error()) // guarded by TestDefaultPrices
	}
	return t
})

// DefaultPrices returns the embedded price table (prices.yaml), a copy the
// caller may change.
func DefaultPrices() PriceTable {
	return PriceTable{Models: slices.Clone(defaultPrices().Models)}
}

// LoadPricesFile reads a price table file with LoadPrices.
func LoadPricesFile(path string) (PriceTable, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return PriceTable{}, err
	}
	t, err := LoadPrices(bytes.NewReader(raw))
	if err != nil {
		return PriceTable{}, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// LoadPrices reads a price table (YAML, or JSON) strictly: unknown keys,
// a second document and invalid models are errors naming the model and key.
func LoadPrices(r io.Reader) (PriceTable, error) {
	var t PriceTable
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&t); err != nil {
		if errors.Is(err, io.EOF) {
			return PriceTable{}, errors.New("price table: empty document")
		}
		return PriceTable{}, fmt.Errorf("price table: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return PriceTable{}, errors.New("price table: want a single YAML document")
	}
	for i := range t.Models {
		if t.Models[i].Title == "" {
			t.Models[i].Title = t.Models[i].Name
		}
	}
	if err := t.Validate(); err != nil {
		return PriceTable{}, err
	}
	return t, nil
}

var modelNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// Validate checks every model: a unique name, a known unit, a positive
// price per a positive block, a non-negative allowance, a date and a source.
func (t PriceTable) Validate() error {
	if len(t.Models) == 0 {
		return errors.New("price table: models: at least one model is required")
	}
	var errs []error
	seen := map[string]bool{}
	for i, m := range t.Models {
		at := fmt.Sprintf("models[%d]", i)
		if m.Name != "" {
			at += " (" + m.Name + ")"
		}
		add := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("price table: %s: %s", at, fmt.Sprintf(format, args...)))
		}
		switch {
		case !modelNameRE.MatchString(m.Name):
			add("name: %q must be 1-64 lower case letters, digits, '_' or '-', starting with a letter or digit", m.Name)
		case seen[m.Name]:
			add("name: %q is used by another model", m.Name)
		}
		seen[m.Name] = true
		if m.Unit != apitypes.UnitGBIngested && m.Unit != apitypes.UnitActiveSeries {
			add("unit: %q is not %s or %s (one unit per model)", m.Unit, apitypes.UnitGBIngested, apitypes.UnitActiveSeries)
		}
		if !positive(m.Per) {
			add("per: must be a positive number of units (1 per GB, 1000 for per 1,000 series), got %g", m.Per)
		}
		if !positive(m.PriceUSD) {
			add("price_usd: must be positive, got %g", m.PriceUSD)
		}
		if !(m.FreePerMonth >= 0) || math.IsInf(m.FreePerMonth, 1) {
			add("free_per_month: must be a finite number ≥ 0, got %g", m.FreePerMonth)
		}
		if _, err := time.Parse(time.DateOnly, m.AsOf); err != nil {
			add("as_of: want a date YYYY-MM-DD, got %q", m.AsOf)
		}
		if strings.TrimSpace(m.Source) == "" {
			add("source: required (where the price comes from)")
		}
	}
	return errors.Join(errs...)
}

func positive(v float64) bool { return v > 0 && !math.IsInf(v, 1) }

// Model returns the named model.
func (t PriceTable) Model(name string) (apitypes.PriceModel, bool) {
	for _, m := range t.Models {
		if m.Name == name {
			return m, true
		}
	}
	return apitypes.PriceModel{}, false
}

// Select returns the named models in the order given; no names selects all.
func (t PriceTable) Select(names []string) ([]apitypes.PriceModel, error) {
	if len(names) == 0 {
		return slices.Clone(t.Models), nil
	}
	out := make([]apitypes.PriceModel, 0, len(names))
	for _, n := range names {
		m, ok := t.Model(n)
		if !ok {
			known := make([]string, len(t.Models))
			for i, m := range t.Models {
				known[i] = m.Name
			}
			return nil, fmt.Errorf("price_models: unknown model %q (known: %s)", n, strings.Join(known, ", "))
		}
		if slices.ContainsFunc(out, func(o apitypes.PriceModel) bool { return o.Name == n }) {
			return nil, fmt.Errorf("price_models: %q is listed twice", n)
		}
		out = append(out, m)
	}
	return out, nil
}
