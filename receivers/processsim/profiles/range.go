package profiles // import "github.com/phoenix/platform/receivers/processsim/profiles"

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"

	"go.yaml.in/yaml/v3"
)

// Range is a value a profile gives as a span, such as 50–200 processes. It is
// written either as one number (`processes: 100`) or as a mapping
// (`processes: {min: 50, max: 200}`); each seed resolves it to one value.
type Range[T int | float64] struct {
	Min T `yaml:"min" json:"min"`
	Max T `yaml:"max" json:"max"`
}

// Fixed returns the range holding only v.
func Fixed[T int | float64](v T) Range[T] { return Range[T]{Min: v, Max: v} }

// String renders the range as "min–max", or the single value.
func (r Range[T]) String() string {
	if r.Min == r.Max {
		return fmt.Sprint(r.Min)
	}
	return fmt.Sprintf("%v–%v", r.Min, r.Max)
}

// pick draws a value uniformly from the range: integers from [min, max],
// floats from [min, max).
func (r Range[T]) pick(rng *rand.Rand) T {
	if r.Max <= r.Min {
		return r.Min
	}
	switch lo := any(r.Min).(type) {
	case int:
		return T(lo + rng.IntN(int(r.Max)-lo+1))
	default:
		return r.Min + T(rng.Float64())*(r.Max-r.Min)
	}
}

// UnmarshalYAML accepts a number or a {min, max} mapping, rejecting other
// keys: a typo must not silently leave a bound at zero.
func (r *Range[T]) UnmarshalYAML(node *yaml.Node) error {
	switch node.Kind {
	case yaml.ScalarNode:
		var v T
		if err := node.Decode(&v); err != nil {
			return err
		}
		*r = Fixed(v)
		return nil
	case yaml.MappingNode:
		var out Range[T]
		seen := map[string]bool{}
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, val := node.Content[i], node.Content[i+1]
			var dst *T
			switch key.Value {
			case "min":
				dst = &out.Min
			case "max":
				dst = &out.Max
			default:
				return fmt.Errorf("line %d: unknown key %q in range (valid: min, max)", key.Line, key.Value)
			}
			if err := val.Decode(dst); err != nil {
				return err
			}
			seen[key.Value] = true
		}
		if !seen["min"] || !seen["max"] {
			return fmt.Errorf("line %d: a range needs both min and max", node.Line)
		}
		*r = out
		return nil
	default:
		return fmt.Errorf("line %d: a range is a number or {min, max}", node.Line)
	}
}

// MarshalYAML writes a single-valued range as a plain number, so listing a
// profile shows what its file says.
func (r Range[T]) MarshalYAML() (any, error) {
	if r.Min == r.Max {
		return r.Min, nil
	}
	return struct {
		Min T `yaml:"min"`
		Max T `yaml:"max"`
	}{r.Min, r.Max}, nil
}

// MarshalJSON mirrors MarshalYAML.
func (r Range[T]) MarshalJSON() ([]byte, error) {
	if r.Min == r.Max {
		return json.Marshal(r.Min)
	}
	return json.Marshal(struct {
		Min T `json:"min"`
		Max T `json:"max"`
	}{r.Min, r.Max})
}
