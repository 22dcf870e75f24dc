package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanonicalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"blank", " \n\t", ""},
		{"null", "null", ""},
		{"sorted compact", `{ "b" : [ 1 , 2 ], "a" : {"d": true, "c": null} }`, `{"a":{"c":null,"d":true},"b":[1,2]}`},
		{"duplicate key: last wins", `{"a":1,"a":2}`, `{"a":2}`},
		{"no HTML escaping", `{"s":"<a href=\"x\">&amp;</a>"}`, `{"s":"<a href=\"x\">&amp;</a>"}`},
		{"unicode escapes decoded", `["\u00e9\u0041"]`, `["éA"]`},
		{"line separators escaped", "[\"\u2028\"]", `["\u2028"]`},
		{"scalar document", `"text"`, `"text"`},
		{"big integer kept exactly", `12345678901234567890123456789`, `12345678901234567890123456789`},
		{"numbers inside", `{"n":[1e2,-1.50,0.0]}`, `{"n":[100,-1.50,0.0]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalJSON("doc", []byte(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			if tt.want == "" {
				assert.Nil(t, got)
			}
			again, err := CanonicalJSON("doc", got)
			require.NoError(t, err)
			assert.Equal(t, string(got), string(again), "canonical form is a fixed point")
		})
	}
}

func TestCanonicalJSONInvalid(t *testing.T) {
	t.Parallel()
	for name, in := range map[string]string{
		"malformed":      `{"a":`,
		"not JSON":       `hello`,
		"trailing value": `{} []`,
		"NUL in string":  `["a\u0000b"]`,
		"NUL in key":     `{"\u0000":1}`,
		"NUL nested":     `{"a":[{"b":"\u0000"}]}`,
		"huge exponent":  `1e1000`,
		"tiny exponent":  `1e-1001`,
		"long integer":   `1` + strings.Repeat("0", 1000) + `e1`,
		"long fraction":  `0.` + strings.Repeat("1", 1001),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := CanonicalJSON("spec", []byte(in))
			require.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), "spec:", "the error names the document")
		})
	}
}

// TestDecimalText pins PostgreSQL numeric's output for JSON number
// literals: scale max(0, fraction digits − exponent), plain notation.
func TestDecimalText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"0":           "0",
		"-0":          "0",
		"-0.00":       "0.00",
		"7":           "7",
		"-7":          "-7",
		"1.50":        "1.50",
		"1e2":         "100",
		"1E+2":        "100",
		"1.5e1":       "15",
		"1.50e1":      "15.0",
		"1.0e-1":      "0.10",
		"1e-2":        "0.01",
		"-2.5e-3":     "-0.0025",
		"123.456e2":   "12345.6",
		"0.000e5":     "0",
		"12e-1":       "1.2",
		"0.5":         "0.5",
		"10":          "10",
		"9.99e-1":     "0.999",
		"3.14159e0":   "3.14159",
		"1e999":       "1" + strings.Repeat("0", 999),
		"-1e-3":       "-0.001",
		"100.0e-2":    "1.000",
		"0e-3":        "0.000",
		"-0e0":        "0",
		"2.0000e+002": "200.00",
	} {
		got, err := decimalText(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
}
