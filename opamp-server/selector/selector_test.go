package selector

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndMatch(t *testing.T) {
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
	for _, expr := range []string{"env", "=prod", "host=~(", "a<b"} {
		_, err := Parse(expr)
		assert.Error(t, err, expr)
	}
}

func TestEqualitiesAndRoundTrip(t *testing.T) {
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
