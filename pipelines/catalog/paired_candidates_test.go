package catalog

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/pipelines/distribution"
	"github.com/phoenix/platform/processors/costmeter"
)

// threeCandidates is the golden paired configuration with several
// candidates; its names use every character class a name may have, and the
// distribution validates the rendered IDs.
var threeCandidates = PairedSpec{
	Baseline: Ref{Pipeline: "baseline"},
	Candidates: []NamedRef{
		{Name: "topk-k5", Pipeline: "topk", Params: map[string]any{"k": 5}},
		{Name: "topk-rollup-k5", Pipeline: "topk-rollup", Params: map[string]any{"k": 5, "group_by": []any{"process.owner"}}},
		{Name: "critical_only.v1", Pipeline: "critical-only"},
	},
	Shared: map[string]any{"destination": "newrelic"},
}

func TestRenderPairedSeveralCandidates(t *testing.T) {
	t.Parallel()
	p, err := shipped(t).RenderPaired(t.Context(), threeCandidates)
	require.NoError(t, err)
	cfg := parse(t, p.Config)

	assert.Equal(t, []string{"host_metrics/process", "host_metrics/system"}, cfg.keysAt("receivers"), "one process scrape feeds every arm")
	assert.Equal(t, []string{
		"metrics/baseline", "metrics/critical_only.v1", "metrics/system", "metrics/topk-k5", "metrics/topk-rollup-k5",
	}, cfg.keysAt("service", "pipelines"))
	assert.Equal(t, []string{"nop", "otlp_http/newrelic"}, cfg.keysAt("exporters"))

	arm := func(name, key string) []string { return cfg.strings("service", "pipelines", name, key) }
	assert.Equal(t, []string{"memory_limiter", "resource_detection", "batch", "cost_meter/baseline"}, arm("metrics/baseline", "processors"))
	assert.Equal(t, []string{"memory_limiter", "resource_detection", "process_critical/topk-k5", "process_topk/topk-k5", "batch", "cost_meter/topk-k5"},
		arm("metrics/topk-k5", "processors"))
	assert.Equal(t, []string{"memory_limiter", "resource_detection", "process_critical/topk-rollup-k5", "process_topk/topk-rollup-k5", "process_rollup/topk-rollup-k5", "batch", "cost_meter/topk-rollup-k5"},
		arm("metrics/topk-rollup-k5", "processors"))
	assert.Equal(t, []string{"memory_limiter", "resource_detection", "process_critical/critical_only.v1", "filter/non_critical/critical_only.v1", "transform/strip_markers/critical_only.v1", "batch", "cost_meter/critical_only.v1"},
		arm("metrics/critical_only.v1", "processors"))
	assert.Equal(t, []string{"otlp_http/newrelic"}, arm("metrics/baseline", "exporters"))
	for _, name := range []string{"topk-k5", "topk-rollup-k5", "critical_only.v1"} {
		assert.Equal(t, []string{"host_metrics/process"}, arm("metrics/"+name, "receivers"))
		assert.Equal(t, []string{"nop"}, arm("metrics/"+name, "exporters"), "%s is a shadow", name)
		assert.Equal(t, name, cfg.at("processors", "cost_meter/"+name, "variant"))
	}
	assert.Equal(t, "baseline", cfg.at("processors", "cost_meter/baseline", "variant"))
	assert.Equal(t, 5, cfg.at("processors", "process_topk/topk-k5", "k"))
	assert.Equal(t, "drop", cfg.at("processors", "process_topk/topk-k5", "others"))
	assert.Equal(t, "rollup", cfg.at("processors", "process_topk/topk-rollup-k5", "others"))
	assert.Equal(t, []any{"process.owner"}, cfg.at("processors", "process_rollup/topk-rollup-k5", "group_by"))

	assert.Equal(t, Arm{}, p.Candidate, "no single candidate")
	require.Len(t, p.Candidates, 3)
	for i, want := range []struct{ variant, pipeline string }{{"topk-k5", "topk"}, {"topk-rollup-k5", "topk-rollup"}, {"critical_only.v1", "critical-only"}} {
		got := p.Candidates[i]
		assert.Equal(t, want.variant, got.Variant)
		assert.Equal(t, want.pipeline, got.Pipeline)
		assert.Equal(t, "1.0.0", got.Version)
		assert.Equal(t, want.variant, got.Params["variant"])
	}
	assert.Equal(t, 5, p.Candidates[0].Params["k"])
	assert.Equal(t, []string{"process.owner"}, p.Candidates[1].Params["group_by"])
	assert.Equal(t, "baseline", p.Baseline.Params["variant"])
	assert.Equal(t, "newrelic", p.Shared["destination"])
	assert.Len(t, p.Hash, 64)
}

func TestRenderPairedCandidatesCanExport(t *testing.T) {
	t.Parallel()
	spec := threeCandidates
	spec.CandidateExports = true
	p, err := shipped(t).RenderPaired(t.Context(), spec)
	require.NoError(t, err)
	cfg := parse(t, p.Config)
	assert.Equal(t, []string{"otlp_http/newrelic"}, cfg.keysAt("exporters"), "no nop without a shadow")
	for _, name := range []string{"baseline", "topk-k5", "topk-rollup-k5", "critical_only.v1"} {
		assert.Equal(t, []string{"otlp_http/newrelic"}, cfg.strings("service", "pipelines", "metrics/"+name, "exporters"), name)
	}
}

func TestRenderPairedMostCandidates(t *testing.T) {
	t.Parallel()
	cands := make([]NamedRef, MaxCandidates)
	for i := range cands {
		params := map[string]any{"k": i + 1}
		cands[i] = NamedRef{Name: CandidateName("topk-rollup", params), Pipeline: "topk-rollup", Params: params}
	}
	long := map[string]any{"group_by": []any{strings.Repeat("process.owner.", 6) + "name"}}
	cands[MaxCandidates-1] = NamedRef{Name: CandidateName("topk-rollup", long), Pipeline: "topk-rollup", Params: long}
	require.Len(t, cands[MaxCandidates-1].Name, 64)

	p, err := shipped(t).RenderPaired(t.Context(), PairedSpec{Baseline: Ref{Pipeline: "topk"}, Candidates: cands})
	require.NoError(t, err, "the longest name is a valid ID suffix")
	cfg := parse(t, p.Config)
	assert.Len(t, cfg.keysAt("service", "pipelines"), 1+MaxCandidates+1)
	for i, cand := range cands {
		assert.Equal(t, cand.Name, p.Candidates[i].Variant)
		assert.Equal(t, cand.Name, cfg.at("processors", "cost_meter/"+cand.Name, "variant"))
	}
	assert.Equal(t, 3, cfg.at("processors", "process_topk/topk-rollup-k3", "k"))
}

func TestRenderPairedOneNamedCandidate(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	named, err := c.RenderPaired(t.Context(), PairedSpec{
		Baseline:   Ref{Pipeline: "topk"},
		Candidates: []NamedRef{{Name: "rollup", Pipeline: "topk-rollup"}},
	})
	require.NoError(t, err)
	cfg := parse(t, named.Config)
	assert.Equal(t, []string{"metrics/baseline", "metrics/rollup", "metrics/system"}, cfg.keysAt("service", "pipelines"))
	assert.Equal(t, "rollup", cfg.at("processors", "cost_meter/rollup", "variant"))
	assert.Equal(t, Arm{}, named.Candidate)
	require.Len(t, named.Candidates, 1)
	assert.Equal(t, "rollup", named.Candidates[0].Variant)

	// Named "candidate", it is the single form's configuration.
	single, err := c.RenderPaired(t.Context(), PairedSpec{Baseline: Ref{Pipeline: "topk"}, Candidate: Ref{Pipeline: "topk-rollup"}})
	require.NoError(t, err)
	same, err := c.RenderPaired(t.Context(), PairedSpec{
		Baseline:   Ref{Pipeline: "topk"},
		Candidates: []NamedRef{{Name: "candidate", Pipeline: "topk-rollup"}},
	})
	require.NoError(t, err)
	assert.Equal(t, single.Hash, same.Hash)
	assert.Equal(t, single.Candidates, same.Candidates)
}

func TestRenderPairedSingleFormListsItsCandidate(t *testing.T) {
	t.Parallel()
	p, err := shipped(t).RenderPaired(t.Context(), PairedSpec{Baseline: Ref{Pipeline: "topk"}, Candidate: Ref{Pipeline: "topk-rollup", Params: map[string]any{"k": 5}}})
	require.NoError(t, err)
	assert.Equal(t, "candidate", p.Candidate.Variant)
	assert.Equal(t, []Arm{p.Candidate}, p.Candidates)
}

func TestRenderPairedRefusesBadCandidates(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	topk := func(names ...string) []NamedRef {
		out := make([]NamedRef, len(names))
		for i, n := range names {
			out[i] = NamedRef{Name: n, Pipeline: "topk"}
		}
		return out
	}
	base := Ref{Pipeline: "topk"}
	const prefix = "invalid paired spec: "
	tests := []struct {
		name string
		spec PairedSpec
		want string
	}{
		{"none", PairedSpec{Baseline: base}, prefix + "no candidate: set Candidate, or 1 to 4 Candidates"},
		{"empty list", PairedSpec{Baseline: base, Candidates: []NamedRef{}}, prefix + "no candidate: set Candidate, or 1 to 4 Candidates"},
		{"five", PairedSpec{Baseline: base, Candidates: topk("a", "b", "c", "d", "e")}, prefix + "5 candidates, at most 4"},
		{"both forms", PairedSpec{Baseline: base, Candidate: base, Candidates: topk("a")}, prefix + "both Candidate and Candidates are set: give one"},
		{"single form with params only", PairedSpec{Baseline: base, Candidate: Ref{Params: map[string]any{}}, Candidates: topk("a")}, prefix + "both Candidate and Candidates are set: give one"},
		{"duplicate", PairedSpec{Baseline: base, Candidates: topk("a", "b", "a")}, prefix + `candidates[2] "a": name already used by candidates[0] "a"`},
		{"duplicate ignoring case", PairedSpec{Baseline: base, Candidates: topk("Fast", "fast")}, prefix + `candidates[1] "fast": name already used by candidates[0] "Fast"`},
		{"baseline", PairedSpec{Baseline: base, Candidates: topk("baseline")}, prefix + `candidates[0] "baseline": name is reserved: the baseline's variant`},
		{"Baseline", PairedSpec{Baseline: base, Candidates: topk("a", "Baseline")}, prefix + `candidates[1] "Baseline": name is reserved: the baseline's variant`},
		{"system", PairedSpec{Baseline: base, Candidates: topk("system")}, prefix + `candidates[0] "system": name is reserved: the system metrics pipeline is metrics/system`},
		{"no name", PairedSpec{Baseline: base, Candidates: topk("a", "")}, prefix + `candidates[1]: no name`},
		{
			"bad names, all reported",
			PairedSpec{Baseline: base, Candidates: topk("a b", "-a", "a/b", strings.Repeat("x", 65))},
			prefix + `candidates[0] "a b": name must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit; ` +
				`candidates[1] "-a": name must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit; ` +
				`candidates[2] "a/b": name must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit; ` +
				`candidates[3] "` + strings.Repeat("x", 65) + `": name must be 1-64 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`,
		},
		{"unknown pipeline", PairedSpec{Baseline: base, Candidates: []NamedRef{{Name: "a", Pipeline: "topk"}, {Name: "b", Pipeline: "y"}}}, `b: unknown pipeline "y" (known: baseline, critical-only, topk, topk-rollup)`},
		{
			"parameters name their candidate",
			PairedSpec{Baseline: base, Candidates: []NamedRef{
				{Name: "k0", Pipeline: "topk", Params: map[string]any{"k": 0}},
				{Name: "ok", Pipeline: "topk"},
				{Name: "r", Pipeline: "topk-rollup", Params: map[string]any{"group_by": "x", "destination": "newrelic", "variant": "v"}},
			}},
			`k0: parameter "k": must be between 1 and 1000, got 0; r: parameter "destination": a collector parameter: set it in the shared params; ` +
				`r: parameter "variant": set by the paired configuration to "r"; r: parameter "group_by": must be a list of strings, got string "x"`,
		},
		{
			"shared parameters name the candidates",
			PairedSpec{Baseline: base, Candidates: topk("a", "b"), Shared: map[string]any{"k": 3, "variant": "x"}},
			`parameter "k": a variant parameter: set it in the baseline's or a candidate's params; parameter "variant": set by the paired configuration to "baseline", "a", "b"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.RenderPaired(t.Context(), tt.spec)
			require.Error(t, err)
			assert.Equal(t, tt.want, err.Error())
			assert.Equal(t, strings.HasPrefix(tt.want, prefix), errors.Is(err, ErrInvalidPairedSpec))
		})
	}

	_, err := c.RenderPaired(t.Context(), tests[len(tests)-2].spec)
	ipe, ok := AsInvalidParams(err)
	require.True(t, ok)
	assert.Equal(t, ParamError{Arm: "k0", Param: "k", Message: "must be between 1 and 1000, got 0"}, ipe.Problems[0])
}

func TestRenderPairedCandidatesReportInvalidConfigurations(t *testing.T) {
	t.Parallel()
	_, err := shipped(t).RenderPaired(t.Context(), PairedSpec{
		Baseline: Ref{Pipeline: "topk"},
		Candidates: []NamedRef{
			{Name: "fine", Pipeline: "topk-rollup"},
			{Name: "bad", Pipeline: "topk", Params: map[string]any{"k": 500, "max_series": 1000}},
		},
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "paired topk 1.0.0 / fine: topk-rollup 1.0.0, bad: topk 1.0.0: rendered configuration is invalid: ")
	ice, ok := distribution.AsInvalid(err)
	require.True(t, ok, "want the distribution's problems, got %v", err)
	require.Len(t, ice.Problems, 1)
	assert.Equal(t, "processors::process_topk/bad", ice.Problems[0].Path)
}

// TestCandidateNamesAreCostMeterVariants keeps the name rule the
// cost_meter's variant rule.
func TestCandidateNamesAreCostMeterVariants(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"a", "A", "0", "topk-rollup-k5", "v1.2_x", "a.", "a-", strings.Repeat("x", 64), strings.Repeat("x", 65),
		"", "-a", ".a", "_a", "a b", "a/b", "a:b", "é", "a+b", "a\tb",
	} {
		cfg := costmeter.Config{Variant: name, ActiveSeriesWindow: 1, MaxTrackedSeries: 1}
		assert.Equal(t, cfg.Validate() == nil, candidateNamePattern.MatchString(name), "%q", name)
	}
}

func TestCandidateName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("process.owner.", 6) + "name"
	tests := []struct {
		pipeline string
		params   map[string]any
		want     string
	}{
		{"topk-rollup", nil, "topk-rollup"},
		{"topk-rollup", map[string]any{"k": 5}, "topk-rollup-k5"},
		{"topk-rollup", map[string]any{"k": 5.0}, "topk-rollup-k5"},
		{"topk-rollup", map[string]any{"k": "5"}, "topk-rollup-k5"},
		{"topk", map[string]any{"k": 20, "max_series": 1000}, "topk-k20-max_series1000"},
		{"topk", map[string]any{"others": "rollup"}, "topk-others-rollup"},
		{"topk", map[string]any{"ratio": 0.25, "delta": -3}, "topk-delta-3-ratio0.25"},
		{"topk", map[string]any{"exit": true}, "topk-exit-true"},
		{"topk-rollup", map[string]any{"group_by": []any{"process.owner", "host.name"}}, "topk-rollup-group_by-process.owner_host.name"},
		{"topk-rollup", map[string]any{"group_by": []string{"process.owner"}}, "topk-rollup-group_by-process.owner"},
		{"topk", map[string]any{"rank_by": []any{}}, "topk-rank_by"},
		{"topk", map[string]any{"note": "a b/c:d"}, "topk-note-a_b_c_d"},
		{"topk", map[string]any{"note": "é"}, "topk-note_"},
		{"", nil, "candidate"},
		{"", map[string]any{"k": 5}, "k5"},
		{"-x", nil, "x"},
		{"baseline", nil, "baseline-candidate"},
		{"System", nil, "System-candidate"},
		{"baseline", map[string]any{"k": 5}, "baseline-k5"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.pipeline, tt.params), func(t *testing.T) {
			t.Parallel()
			got := CandidateName(tt.pipeline, tt.params)
			assert.Equal(t, tt.want, got)
			assert.Regexp(t, candidateNamePattern, got)
		})
	}

	rules := map[string]any{"critical_rules": []any{map[string]any{"name": "db", "executable_name": "postgres"}}}
	hashed := CandidateName("topk", rules)
	assert.Regexp(t, `^topk-critical_rules-h[0-9a-f]{8}$`, hashed, "lists of maps are hashed")
	assert.Equal(t, hashed, CandidateName("topk", rules), "deterministic")

	a := CandidateName("topk-rollup", map[string]any{"group_by": []any{long + ".a"}})
	b := CandidateName("topk-rollup", map[string]any{"group_by": []any{long + ".b"}})
	assert.Len(t, a, 64)
	assert.Regexp(t, candidateNamePattern, a)
	assert.Equal(t, a[:55], b[:55])
	assert.NotEqual(t, a, b, "truncated names keep a hash of the whole")
	assert.Regexp(t, `^topk-rollup-group_by-process\.owner\.[a-z.]{20}-[0-9a-f]{8}$`, a)
}
