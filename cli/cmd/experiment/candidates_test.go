package experiment

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// specOf parses `create args...` and returns the spec the flags make over
// base (nil: no file).
func specOf(t *testing.T, base *apitypes.ExperimentSpec, args ...string) (apitypes.ExperimentSpec, error) {
	t.Helper()
	opts, err := clitest.Parse(t, func(ios *cmdutil.IOStreams, runF func(context.Context, *CreateOptions) error) *cobra.Command {
		return NewCmdCreate(ios, &cmdutil.ClientOptions{}, runF)
	}, args...)
	require.NoError(t, err)
	var spec apitypes.ExperimentSpec
	if base != nil {
		spec = *base
	}
	err = opts.overlay(&spec)
	return spec, err
}

func TestCreateSeveralCandidates(t *testing.T) {
	t.Parallel()
	s, err := specOf(t, nil, "--name", "k", "-l", "env=test",
		"--candidate", "topk-rollup:k=5", "--candidate", "topk-rollup:k=10", "--candidate", "topk:k=10,rank_by=[cpu, memory]")
	require.NoError(t, err)
	assert.Equal(t, []apitypes.NamedVariant{
		{Name: "topk-rollup-k5", Pipeline: "topk-rollup", Parameters: map[string]any{"k": 5}},
		{Name: "topk-rollup-k10", Pipeline: "topk-rollup", Parameters: map[string]any{"k": 10}},
		{Name: "topk-k10-rank_by-cpu_memory", Pipeline: "topk", Parameters: map[string]any{"k": 10, "rank_by": []any{"cpu", "memory"}}},
	}, s.Candidates, "named after pipeline and parameters; a YAML list keeps its commas")
	assert.Equal(t, apitypes.Variant{}, s.Candidate, "either form, not both")
	assert.Equal(t, []string{"topk-rollup-k5", "topk-rollup-k10", "topk-k10-rank_by-cpu_memory"}, s.CandidateNames())
	assert.Equal(t, "baseline", s.Baseline.Pipeline)

	// The flags replace the file's candidate.
	file := apitypes.ExperimentSpec{Candidate: apitypes.Variant{Pipeline: "topk", Parameters: map[string]any{"k": 3}, Export: true}}
	s, err = specOf(t, &file, "--candidate", "topk", "--candidate", "topk-rollup")
	require.NoError(t, err)
	assert.Equal(t, apitypes.Variant{}, s.Candidate)
	assert.Equal(t, []string{"topk", "topk-rollup"}, s.CandidateNames())
}

func TestCreateOneCandidateKeepsTheSingleForm(t *testing.T) {
	t.Parallel()
	s, err := specOf(t, nil, "--candidate", "topk-rollup:k=5,others=rollup", "--candidate-param", "k=7", "--candidate-param", "ttl=5m")
	require.NoError(t, err)
	assert.Nil(t, s.Candidates)
	assert.Equal(t, apitypes.Variant{Pipeline: "topk-rollup", Parameters: map[string]any{"k": 7, "others": "rollup", "ttl": "5m"}},
		s.Candidate, "the colon's parameters and --candidate-param merge, the flag last")

	// A file with several candidates and one --candidate: the flag's wins.
	file := apitypes.ExperimentSpec{Candidates: []apitypes.NamedVariant{{Pipeline: "topk"}, {Pipeline: "topk-rollup"}},
		Candidate: apitypes.Variant{Parameters: map[string]any{"k": 3}}}
	s, err = specOf(t, &file, "--candidate", "topk")
	require.NoError(t, err)
	assert.Nil(t, s.Candidates)
	assert.Equal(t, apitypes.Variant{Pipeline: "topk", Parameters: map[string]any{"k": 3}}, s.Candidate)
}

func TestCreateCandidateErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		base *apitypes.ExperimentSpec
		args []string
		want string
	}{
		{"too many", nil, []string{"--candidate", "a", "--candidate", "b", "--candidate", "c", "--candidate", "d", "--candidate", "e"},
			"--candidate: 5 given, at most 4 candidates per experiment"},
		{"--candidate-param with several", nil, []string{"--candidate", "topk", "--candidate", "topk-rollup", "--candidate-param", "k=5"},
			"put each one's parameters after its pipeline: --candidate topk:k=5"},
		{"--candidate-param with a file's several", &apitypes.ExperimentSpec{Candidates: []apitypes.NamedVariant{{Pipeline: "topk"}, {Pipeline: "topk-rollup"}}},
			[]string{"--candidate-param", "k=5"}, "--candidate pipeline:k=v"},
		{"names collide", nil, []string{"--candidate", "topk:k=5", "--candidate", "topk:k=05"},
			`--candidate "topk:k=5" and --candidate "topk:k=05" are both named "topk-k5"`},
		{"names collide ignoring case", nil, []string{"--candidate", "topk:k=5", "--candidate", "TOPK:k=5"},
			`--candidate "topk:k=5" and --candidate "TOPK:k=5" are both named "TOPK-k5"`},
		{"no pipeline", nil, []string{"--candidate", ":k=5", "--candidate", "topk"}, `--candidate ":k=5": want PIPELINE[:key=value,...]`},
		{"a parameter without a value", nil, []string{"--candidate", "topk:k"}, `--candidate "topk:k"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := specOf(t, tt.base, tt.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestSplitParams(t *testing.T) {
	t.Parallel()
	assert.Equal(t, []string{"k=5", "rank_by=[cpu, memory]", "m={a: 1, b: 2}", `s="x,y"`}, splitParams(`k=5,rank_by=[cpu, memory],m={a: 1, b: 2},s="x,y"`))
	assert.Equal(t, []string{"k=5"}, splitParams("k=5"))
}

func TestCreateHelpTeachesSeveralCandidates(t *testing.T) {
	t.Parallel()
	out, _, err := clitest.Run(t, func(ios *cmdutil.IOStreams) *cobra.Command { return NewCmdCreate(ios, &cmdutil.ClientOptions{}, nil) }, "--help")
	require.NoError(t, err)
	assert.Contains(t, out, "--candidate topk-rollup:k=5 --candidate topk-rollup:k=10 --candidate topk:k=10")
	assert.Contains(t, out, "PIPELINE[:key=value,...]")
}

// fakeAPI answers POST .../promote with the experiment promoted and GET
// .../results with results, recording the promote bodies.
func fakeAPI(t *testing.T, results apitypes.Results) (*cmdutil.ClientOptions, func() []apitypes.PromoteRequest) {
	t.Helper()
	var mu sync.Mutex
	var bodies []apitypes.PromoteRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/promote"):
			var req apitypes.PromoteRequest
			assert.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			mu.Lock()
			bodies = append(bodies, req)
			mu.Unlock()
			assert.NoError(t, json.NewEncoder(w).Encode(apitypes.Envelope[apitypes.Experiment]{Data: apitypes.Experiment{ID: "exp-1", Status: apitypes.ExperimentCompleted,
				State: apitypes.ExperimentState{Rollout: &apitypes.Rollout{State: apitypes.RolloutRolling, Candidate: req.Candidate,
					GateTimeout: apitypes.Duration(5 * time.Minute),
					Waves:       []apitypes.RolloutWave{{Percent: 100, Size: 1, State: apitypes.WaveRolling, Agents: make([]apitypes.RolloutAgent, 1)}}}}}}))
		case strings.HasSuffix(r.URL.Path, "/results"):
			assert.NoError(t, json.NewEncoder(w).Encode(apitypes.Envelope[apitypes.ExperimentResults]{Data: apitypes.ExperimentResults{Final: true, Results: results}}))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return &cmdutil.ClientOptions{Server: srv.URL, Token: "t"}, func() []apitypes.PromoteRequest {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(bodies)
	}
}

func TestPromoteNamesTheCandidate(t *testing.T) {
	t.Parallel()
	client, bodies := fakeAPI(t, apitypes.Results{})
	run := func(args ...string) string {
		t.Helper()
		out, _, err := clitest.Run(t, func(ios *cmdutil.IOStreams) *cobra.Command { return NewCmdPromote(ios, client, nil) }, args...)
		require.NoError(t, err)
		return out
	}
	out := run("exp-1", "--candidate", "topk-rollup-k10", "--waves", "100")
	assert.Contains(t, out, "ROLLOUT  rolling, wave 1 of 1, gate timeout 5m0s, candidate topk-rollup-k10\n")
	run("exp-1")
	assert.Equal(t, []apitypes.PromoteRequest{{Waves: []float64{100}, Candidate: "topk-rollup-k10"}, {}}, bodies(),
		"the name goes in the request; left out for a single candidate")

	help, _, err := clitest.Run(t, func(ios *cmdutil.IOStreams) *cobra.Command { return NewCmdPromote(ios, client, nil) }, "--help")
	require.NoError(t, err)
	assert.Contains(t, help, "required when the experiment compared several")
}

func TestResultsOfSeveralCandidates(t *testing.T) {
	t.Parallel()
	want := clitest.MultiResults()
	client, _ := fakeAPI(t, want)
	run := func(args ...string) string {
		t.Helper()
		out, _, err := clitest.Run(t, func(ios *cmdutil.IOStreams) *cobra.Command { return NewCmdResults(ios, client, nil) }, args...)
		require.NoError(t, err)
		return out
	}
	out := run("exp-1")
	assert.Contains(t, out, "recommended: topk-rollup-k10 — the cheapest that meets every criterion\n")
	assert.Contains(t, out, "2     topk-k10")

	var got apitypes.Results
	require.NoError(t, json.Unmarshal([]byte(run("exp-1", "-o", "json")), &got))
	assert.Equal(t, "topk-rollup-k10", got.Recommended)
	require.Len(t, got.Candidates, 3)
	for i, c := range got.Candidates {
		assert.Equal(t, want.Candidates[i].Name, c.Name)
		assert.Equal(t, i+1, c.Rank)
		assert.Equal(t, want.Candidates[i].ParetoOptimal, c.ParetoOptimal)
		assert.Equal(t, want.Candidates[i].Costs[0].Variants, c.Costs[0].Variants)
		assert.Equal(t, want.Candidates[i].Verdict.Pass, c.Verdict.Pass)
	}
	assert.Equal(t, map[string]any{"k": float64(10), "rank_by": []any{"cpu", "memory"}}, got.Candidates[1].Parameters)
	assert.InDelta(t, 0.8, *got.Candidates[2].Fidelity.CPUCoverage, 1e-9)
}
