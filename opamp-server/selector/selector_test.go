package selector

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndMatch(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"env": "prod", "host.name": "web-12", "region": "eu"}
	tests := []struct {
		expr string
		want bool
	}{
		{"", true},
		{"env=prod", true},
		{"env=dev", false},
		{"env!=dev", true},
		{"host.name=~web-.*", true},
		{"host.name=~web", false}, // whole value
		{"host.name!~db-.*", true},
		{"env=prod, host.name=~web-1[0-9]", true},
		{"env=prod,region=us", false},
		{"missing=", true},
		{"missing!=", false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			sel, err := Parse(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.want, sel.Matches(labels))
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{"env", "=prod", "host=~(", "a<b"} {
		_, err := Parse(expr)
		assert.Error(t, err, expr)
	}
}

func TestEqualitiesAndRoundTrip(t *testing.T) {
	t.Parallel()
	sel, err := Parse("env=prod", "host=~web-.*,tier!=db")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"env": "prod"}, sel.Equalities())
	assert.Equal(t, "env=prod,host=~web-.*,tier!=db", sel.String())
	assert.Equal(t, []string{"env", "host", "tier"}, sel.Labels())

	again, err := Parse(sel.String())
	require.NoError(t, err)
	assert.Equal(t, sel.String(), again.String())

	compiled, err := Selector{{Label: "host", Op: Match, Value: "web-.*"}}.Compile()
	require.NoError(t, err)
	assert.True(t, compiled.Matches(map[string]string{"host": "web-1"}))
	_, err = Selector{{Label: "host", Op: "~~", Value: "x"}}.Compile()
	assert.Error(t, err)
}

// TestFindingsAreRefused replays how selectors used to select every agent.
func TestFindingsAreRefused(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{",", " , ", ""} {
		_, err := ParseRequired(expr)
		assert.ErrorContains(t, err, "at least one matcher", "%q selected every agent", expr)
	}
	// Read as label "env=nosuch", "!=", "zzz" it matched everything.
	_, err := Parse("env=nosuch!=zzz")
	assert.ErrorContains(t, err, "operator character")
	_, err = Parse("host name=web")
	assert.ErrorContains(t, err, "want label, an operator")
	_, err = Parse("=prod")
	assert.ErrorContains(t, err, "empty label")
	_, err = Parse("env==prod")
	assert.ErrorContains(t, err, "operator character")
	_, err = Parse(strings.Repeat("a=b,", MaxMatchers+1))
	assert.ErrorContains(t, err, "more than 64 matchers")
	_, err = Parse(strings.Repeat("l", MaxLabelLength+1) + "=x")
	assert.ErrorContains(t, err, "label longer")
	_, err = Parse("a=~" + strings.Repeat("x", MaxValueLength+1))
	assert.ErrorContains(t, err, "value longer")
	_, err = Selector{{Label: "bad label", Op: Equal, Value: "x"}}.Compile()
	assert.ErrorContains(t, err, "may hold only")

	sel, err := Parse(" k8s.node.name = node-1 , app.kubernetes.io/name=~phoenix-.* ")
	require.NoError(t, err)
	assert.Equal(t, "k8s.node.name=node-1,app.kubernetes.io/name=~phoenix-.*", sel.String())
	sel, err = Parse("note=~a=b")
	require.NoError(t, err, "a value holding = is written as a regular expression")
	assert.True(t, sel.Matches(map[string]string{"note": "a=b"}))
}

// FuzzParse: parsing never panics, and what parses prints back to a
// selector that parses to the same matchers and selects the same labels.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"env=prod", "env=prod,host.name=~web-.*", "a!=b", "a!~(x|y)", ",", "env=nosuch!=zzz",
		"k=~[", " a = b ", "a=\xff", "app.kubernetes.io/name=x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		sel, err := Parse(expr)
		if err != nil {
			return
		}
		again, err := Parse(sel.String())
		if err != nil {
			t.Fatalf("%q parsed, but its form %q does not: %v", expr, sel.String(), err)
		}
		if again.String() != sel.String() {
			t.Fatalf("%q: %q re-parses as %q", expr, sel.String(), again.String())
		}
		labels := map[string]string{}
		for _, m := range sel {
			labels[m.Label] = m.Value
		}
		if sel.Matches(labels) != again.Matches(labels) {
			t.Fatalf("%q: the printed form selects differently", expr)
		}
	})
}
