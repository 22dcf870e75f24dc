package catalog

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestQuotingKeepsLineBreakLookalikes replays the finding: U+0085 in a
// parameter became a space in the configuration.
func TestQuotingKeepsLineBreakLookalikes(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"a\u0085b", "a\u2028b\u2029c", "\ufeffx", "\u0080\u009f", "tab\there", "${env:X}"} {
		var b strings.Builder
		writeQuoted(&b, s)
		var doc struct {
			V string `yaml:"v"`
		}
		require.NoError(t, yaml.Unmarshal([]byte("v: "+b.String()), &doc), b.String())
		assert.Equal(t, strings.ReplaceAll(s, "$", "$$"), doc.V, "%q quoted as %s", s, b.String())
	}
}

// FuzzQuoting: any valid UTF-8 string a parameter holds reads back from
// the rendered YAML exactly (with '$' doubled for the collector).
func FuzzQuoting(f *testing.F) {
	for _, s := range []string{"plain", "a\u0085b", `quote " and \ backslash`, "new\nline", "${env:SECRET}", "\x00", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		var b strings.Builder
		writeQuoted(&b, s)
		var doc struct {
			V string `yaml:"v"`
		}
		if err := yaml.Unmarshal([]byte("v: "+b.String()), &doc); err != nil {
			t.Fatalf("%q quoted as %s does not parse: %v", s, b.String(), err)
		}
		if want := strings.ReplaceAll(s, "$", "$$"); doc.V != want {
			t.Fatalf("%q quoted as %s reads back as %q", s, b.String(), doc.V)
		}
	})
}
