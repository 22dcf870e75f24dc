package experiments

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// multiSpec is a valid paired spec with several candidates.
func multiSpec(cands ...apitypes.NamedVariant) apitypes.ExperimentSpec {
	s := validSpec(apitypes.ModePaired)
	s.Candidate = apitypes.Variant{}
	s.Candidates = cands
	return s
}

func topkK(k int) apitypes.NamedVariant {
	return apitypes.NamedVariant{Pipeline: "topk-rollup", Parameters: map[string]any{"k": k}}
}

func TestDefaultsNameUnnamedCandidates(t *testing.T) {
	t.Parallel()
	s := multiSpec(topkK(5), apitypes.NamedVariant{Name: "mine", Pipeline: "topk"}, apitypes.NamedVariant{Pipeline: "topk"})
	given := s.Candidates
	applyDefaults(&s)
	require.NoError(t, Validate(s))
	assert.Equal(t, []string{"topk-rollup-k5", "mine", "topk"}, s.CandidateNames())
	assert.Empty(t, given[0].Name, "the caller's slice is left as it was")
}

func TestParseSpecNamesCandidates(t *testing.T) {
	t.Parallel()
	s, err := ParseSpec([]byte(`
name: several
targets: {selector: env=test}
baseline: {pipeline: baseline}
candidates:
  - pipeline: topk-rollup
    parameters: {k: 10}
  - {name: small, pipeline: topk-rollup, parameters: {k: 3}}
duration: 10m
`))
	require.NoError(t, err)
	assert.Equal(t, []string{"topk-rollup-k10", "small"}, s.CandidateNames())
	assert.Equal(t, apitypes.ModePaired, s.Mode)
}

func TestValidateCandidatesNamesEveryField(t *testing.T) {
	t.Parallel()
	named := func(name string) apitypes.NamedVariant {
		return apitypes.NamedVariant{Name: name, Pipeline: "topk"}
	}
	tests := []struct {
		name string
		spec func() apitypes.ExperimentSpec
		want string
	}{
		{"split mode", func() apitypes.ExperimentSpec {
			s := multiSpec(topkK(5))
			s.Mode = apitypes.ModeSplit
			return s
		}, "candidates: several candidates run in paired mode only"},
		{"both forms", func() apitypes.ExperimentSpec {
			s := multiSpec(topkK(5))
			s.Candidate.Pipeline = "topk"
			return s
		}, "candidates: give candidate or candidates, not both"},
		{"export", func() apitypes.ExperimentSpec {
			s := multiSpec(topkK(5))
			s.Candidate.Export = true
			return s
		}, "candidate.export: does not apply to candidates"},
		{"empty list", func() apitypes.ExperimentSpec { return multiSpec([]apitypes.NamedVariant{}...) }, "candidates: give 1 to 4 candidates"},
		{"five", func() apitypes.ExperimentSpec {
			return multiSpec(topkK(1), topkK(2), topkK(3), topkK(4), topkK(5))
		}, "candidates: at most 4 candidates, got 5"},
		{"no pipeline", func() apitypes.ExperimentSpec {
			return multiSpec(topkK(1), topkK(2), apitypes.NamedVariant{Name: "x"})
		}, "candidates[2].pipeline: required"},
		{"long name", func() apitypes.ExperimentSpec {
			return multiSpec(named(strings.Repeat("n", 10_000)))
		}, "candidates[0].name: must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (got 10000 characters)"},
		{"bad character", func() apitypes.ExperimentSpec { return multiSpec(named("a b")) }, "candidates[0].name: must be 1-64"},
		{"leading dash", func() apitypes.ExperimentSpec { return multiSpec(named("-a")) }, "candidates[0].name: must be 1-64"},
		{"reserved baseline", func() apitypes.ExperimentSpec { return multiSpec(named("Baseline")) }, `candidates[0].name: "Baseline" is reserved`},
		{"reserved system", func() apitypes.ExperimentSpec { return multiSpec(topkK(1), named("SYSTEM")) }, `candidates[1].name: "SYSTEM" is reserved`},
		{"duplicate after defaulting", func() apitypes.ExperimentSpec {
			return multiSpec(topkK(5), topkK(5))
		}, `candidates[1].name: "topk-rollup-k5" is also candidates[0]'s name; give each a name`},
		{"duplicate ignoring case", func() apitypes.ExperimentSpec {
			return multiSpec(named("Fast"), named("fast"))
		}, `candidates[1].name: "fast" is also candidates[0]'s name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.spec()
			applyDefaults(&s)
			err := Validate(s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Less(t, len(err.Error()), 2000, "a long name is not echoed")
		})
	}
}

func TestValidateSingleCandidateUnchanged(t *testing.T) {
	t.Parallel()
	s := validSpec(apitypes.ModePaired)
	s.Candidate = apitypes.Variant{}
	applyDefaults(&s)
	err := Validate(s)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "candidate.pipeline: required")

	s = multiSpec(topkK(5))
	applyDefaults(&s)
	assert.NoError(t, Validate(s), "candidates instead of candidate")
}
