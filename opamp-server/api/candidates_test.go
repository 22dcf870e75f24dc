package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/opamp-server/redact"
)

// multiSpecJSON is a paired spec comparing the given candidates.
func multiSpecJSON(name string, cands ...map[string]any) map[string]any {
	spec := specJSON(name)
	delete(spec, "candidate")
	spec["candidates"] = cands
	return spec
}

func cand(pipeline string, k int) map[string]any {
	return map[string]any{"pipeline": pipeline, "parameters": map[string]any{"k": k}}
}

func TestCreateExperimentWithSeveralCandidates(t *testing.T) {
	e := newExpEnv(t)
	r := e.as(t, experimenterToken, http.MethodPost, "/experiments",
		multiSpecJSON("several", cand("topk-rollup", 5), map[string]any{"name": "small", "pipeline": "topk", "parameters": map[string]any{"k": 3}}))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	x, _ := data[experiments.Experiment](t, r)
	assert.Equal(t, []string{"topk-rollup-k5", "small"}, x.Spec.CandidateNames(), "unnamed candidates are named")
	assert.Empty(t, x.Spec.Candidate.Pipeline)
}

// Hostile specs are refused whole, naming the field, and store nothing.
func TestCreateExperimentRefusesHostileCandidates(t *testing.T) {
	e := newExpEnv(t)
	five := make([]map[string]any, 5)
	for i := range five {
		five[i] = cand("topk", i+1)
	}
	long := map[string]any{"name": strings.Repeat("n", 10_000), "pipeline": "topk"}
	dup := map[string]any{"name": "same", "pipeline": "topk"}
	split := multiSpecJSON("split", cand("topk", 5))
	split["mode"] = "split"
	both := multiSpecJSON("both", cand("topk", 5))
	both["candidate"] = map[string]any{"pipeline": "topk"}
	unknown := multiSpecJSON("unknown", cand("topk", 5), cand("no-such-pipeline", 1))
	for _, tt := range []struct {
		name string
		body map[string]any
		want string
	}{
		{"five candidates", multiSpecJSON("five", five...), "candidates: at most 4 candidates, got 5"},
		{"a 10 KB name", multiSpecJSON("long", long), "candidates[0].name: must be 1-64 letters"},
		{"duplicate names", multiSpecJSON("dup", dup, cand("topk", 1), dup), `candidates[2].name: "same" is also candidates[0]'s name; give each a name`},
		{"duplicate defaulted names", multiSpecJSON("dup", cand("topk", 5), cand("topk", 5)), `candidates[1].name: "topk-k5" is also candidates[0]'s name`},
		{"split mode", split, "candidates: several candidates run in paired mode only"},
		{"candidate and candidates", both, "candidates: give candidate or candidates, not both"},
		{"no pipeline", multiSpecJSON("nopipe", cand("topk", 5), map[string]any{"name": "x"}), "candidates[1].pipeline: required"},
		{"unknown pipeline", unknown, `candidates[1].pipeline: pipeline "no-such-pipeline"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := apiError(t, e.as(t, experimenterToken, http.MethodPost, "/experiments", tt.body), http.StatusBadRequest, apitypes.CodeBadRequest)
			assert.Contains(t, got.Message, tt.want)
			assert.Less(t, len(got.Message), 2000, "a long name is not echoed")
		})
	}
	xs, _ := data[[]experiments.Experiment](t, e.as(t, viewerToken, http.MethodGet, "/experiments", nil))
	assert.Empty(t, xs, "nothing was created")
}

// The shared parameters are checked against every candidate's pipeline.
func TestSeveralCandidatesEnvParamsOutsideTheAllowlistAreForbidden(t *testing.T) {
	e := newExpEnv(t)
	spec := multiSpecJSON("exfiltrate", cand("topk", 5), cand("topk-rollup", 5))
	spec["parameters"] = exfiltrate("AWS_SECRET_ACCESS_KEY")["parameters"]
	got := apiError(t, e.as(t, experimenterToken, http.MethodPost, "/experiments", spec), http.StatusForbidden, apitypes.CodeForbidden)
	require.NotEmpty(t, got.Details)
	assert.Equal(t, "otlp_env_headers", got.Details[0].Param)
	xs, _ := data[[]experiments.Experiment](t, e.as(t, viewerToken, http.MethodGet, "/experiments", nil))
	assert.Empty(t, xs, "nothing was created")

	spec["parameters"] = exfiltrate("OTLP_AUTH")["parameters"]
	r := e.as(t, experimenterToken, http.MethodPost, "/experiments", spec)
	assert.Equal(t, http.StatusCreated, r.status, "%s", r.body)
}

func TestPromoteNamesOneOfSeveralCandidates(t *testing.T) {
	e := newExpEnv(t)
	ctx := t.Context()
	putAgent(t, e.store, apitypes.Agent{InstanceUID: "agent-1", Labels: map[string]string{"env": "test"}, Online: true,
		Health: &apitypes.Health{Healthy: true}})
	_, err := e.store.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "agent-1", Config: validConfig, Reason: "before"})
	require.NoError(t, err)
	x, _ := data[experiments.Experiment](t, e.as(t, experimenterToken, http.MethodPost, "/experiments?start=true",
		multiSpecJSON("several", cand("topk-rollup", 5), cand("topk", 3))))
	e.c.ReconcileAll(ctx)
	x, err = e.c.Get(ctx, x.ID)
	require.NoError(t, err)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	a, err := e.store.GetAgent(ctx, "agent-1")
	require.NoError(t, err)
	a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: x.State.Targets[0].ConfigHash, Status: apitypes.ConfigStatusApplied}
	require.NoError(t, e.store.UpsertAgent(ctx, a))
	e.c.ReconcileAll(ctx)
	e.mu.Lock()
	e.now = e.now.Add(3 * time.Minute)
	e.mu.Unlock()
	e.c.ReconcileAll(ctx)
	e.c.ReconcileAll(ctx)
	x, err = e.c.Get(ctx, x.ID)
	require.NoError(t, err)
	require.Equal(t, apitypes.ExperimentCompleted, x.Status, x.State.Error)

	path := "/experiments/" + x.ID + "/promote"
	got := apiError(t, e.as(t, operatorToken, http.MethodPost, path, nil), http.StatusBadRequest, apitypes.CodeBadRequest)
	assert.Contains(t, got.Message, "promote: name the candidate to promote (--candidate): one of topk-rollup-k5, topk-k3")
	got = apiError(t, e.as(t, operatorToken, http.MethodPost, path, map[string]any{"candidate": "topk-k4"}), http.StatusBadRequest, apitypes.CodeBadRequest)
	assert.Contains(t, got.Message, `no candidate is named "topk-k4"`)
	x, err = e.c.Get(ctx, x.ID)
	require.NoError(t, err)
	assert.Nil(t, x.State.Rollout, "a refused promote stores nothing")

	promoted, _ := data[experiments.Experiment](t, e.as(t, operatorToken, http.MethodPost, path, map[string]any{"candidate": "topk-k3"}))
	require.NotNil(t, promoted.State.Rollout)
	assert.Equal(t, "topk-k3", promoted.State.Rollout.Candidate)
	asg, err := e.store.GetAssignment(ctx, "agent-1")
	require.NoError(t, err)
	assert.Equal(t, "topk", asg.Pipeline)
	assert.EqualValues(t, 3, asg.Parameters["k"])
}

// The candidates' parameters, in the spec and in the results, are redacted
// like the single candidate's, without changing the experiment viewed.
func TestExperimentViewRedactsEveryCandidatesParameters(t *testing.T) {
	secret := map[string]any{"k": 5, "api_key": "s3cret"}
	x := apitypes.Experiment{
		Spec: apitypes.ExperimentSpec{Candidates: []apitypes.NamedVariant{{Name: "a", Pipeline: "topk", Parameters: secret}}},
		State: apitypes.ExperimentState{Results: &apitypes.Results{
			Candidates: []apitypes.CandidateResults{{Name: "a", Pipeline: "topk", Parameters: secret}},
		}},
	}
	view := experimentView(x)
	assert.Equal(t, redact.Placeholder, view.Spec.Candidates[0].Parameters["api_key"])
	assert.EqualValues(t, 5, view.Spec.Candidates[0].Parameters["k"])
	assert.Equal(t, redact.Placeholder, view.State.Results.Candidates[0].Parameters["api_key"])
	assert.Equal(t, "s3cret", x.Spec.Candidates[0].Parameters["api_key"], "the experiment itself is unchanged")
	assert.Equal(t, "s3cret", x.State.Results.Candidates[0].Parameters["api_key"])
	assert.Equal(t, redact.Placeholder, resultsView(*x.State.Results).Candidates[0].Parameters["api_key"])
}
