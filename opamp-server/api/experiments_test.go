package api

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/experiments"
)

const experimenterToken = "experimenter-token-0000000000"

// expEnv is the API with the experiment routes: a real controller over the
// test store, a clock the test moves and an analyzer that reports how many
// targets it measured.
type expEnv struct {
	*testEnv
	c   *experiments.Controller
	mu  sync.Mutex
	now time.Time
}

func newExpEnv(t testing.TB) *expEnv {
	t.Helper()
	e := &expEnv{now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	authn, err := auth.New([]auth.TokenEntry{
		{Name: "vera", TokenSHA256: auth.Digest(viewerToken), Roles: []auth.Role{auth.RoleViewer}},
		{Name: "eddie", TokenSHA256: auth.Digest(experimenterToken), Roles: []auth.Role{auth.RoleExperimenter}},
		{Name: "otto", TokenSHA256: auth.Digest(operatorToken), Roles: []auth.Role{auth.RoleOperator}},
		{Name: "ada", TokenSHA256: auth.Digest(adminToken), Roles: []auth.Role{auth.RoleAdmin}},
	})
	require.NoError(t, err)
	e.testEnv = newTestEnv(t, func(s *Settings) {
		s.Auth = authn
		e.c, err = experiments.New(experiments.Settings{Store: s.Store, Catalog: s.Catalog, Assignments: s.Assignments,
			Analyze: func(_ context.Context, _ experiments.Experiment, samples map[string][]apitypes.Sample) (apitypes.Results, error) {
				return apitypes.Results{Targets: len(samples), Verdict: apitypes.Verdict{Pass: true}}, nil
			},
			Now: func() time.Time { e.mu.Lock(); defer e.mu.Unlock(); return e.now },
		})
		require.NoError(t, err)
		s.Experiments = e.c
		s.Report = func(ctx context.Context, id string, w io.Writer) error {
			x, err := e.c.Get(ctx, id)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "<!doctype html><title>%s</title>", html.EscapeString(x.Name))
			return err
		}
	})
	return e
}

// as sends a request with a role's token.
func (e *expEnv) as(t *testing.T, token, method, path string, body any) response {
	t.Helper()
	return e.do(t, method, apitypes.Prefix+path, body, "Authorization", "Bearer "+token)
}

const specYAML = `name: web topk
targets: {selector: env=test}
baseline: {pipeline: baseline}
candidate: {pipeline: topk-rollup}
duration: 2m
warmup: 30s
`

func specJSON(name string) map[string]any {
	return map[string]any{"name": name, "targets": map[string]any{"selector": "env=test"},
		"baseline": map[string]any{"pipeline": "baseline"}, "candidate": map[string]any{"pipeline": "topk"},
		"duration": "2m", "warmup": "30s"}
}

func (e *expEnv) create(t *testing.T, name string) experiments.Experiment {
	t.Helper()
	x, _ := data[experiments.Experiment](t, e.as(t, experimenterToken, http.MethodPost, "/experiments", specJSON(name)))
	return x
}

// completed runs an experiment on one agent to completion.
func (e *expEnv) completed(t *testing.T) experiments.Experiment {
	t.Helper()
	ctx := t.Context()
	putAgent(t, e.store, apitypes.Agent{InstanceUID: "agent-1", Labels: map[string]string{"env": "test"}, Online: true,
		Health: &apitypes.Health{Healthy: true}})
	_, err := e.store.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "agent-1", Config: validConfig, Reason: "before"})
	require.NoError(t, err)
	x, _ := data[experiments.Experiment](t, e.as(t, experimenterToken, http.MethodPost, "/experiments?start=true", specYAML))
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
	return x
}

func TestCreateExperiment(t *testing.T) {
	e := newExpEnv(t)
	for _, tt := range []struct {
		name, query string
		body        any
		want        string
		started     bool
	}{
		{name: "json", body: specJSON("from json"), want: "from json"},
		{name: "yaml", body: specYAML, want: "web topk"},
		{name: "and start", query: "?start=true", body: specYAML, want: "web topk", started: true},
		{name: "start=false", query: "?start=false", body: specYAML, want: "web topk"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(t, experimenterToken, http.MethodPost, "/experiments"+tt.query, tt.body)
			require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
			x, _ := data[experiments.Experiment](t, r)
			assert.Equal(t, tt.want, x.Name)
			assert.True(t, strings.HasPrefix(x.ID, "exp-"), x.ID)
			assert.Equal(t, apitypes.ModePaired, x.Spec.Mode, "defaults are applied")
			assert.Equal(t, experiments.DefaultDeployTimeout, x.Spec.DeployTimeout.D())
			assert.Equal(t, apitypes.ExperimentPending, x.Status)
			assert.Equal(t, tt.started, x.State.StartRequested)
			stored, err := e.c.Get(t.Context(), x.ID)
			require.NoError(t, err)
			assert.Equal(t, x.Spec, stored.Spec)
		})
	}
}

func TestCreateExperimentRejectsBadSpecs(t *testing.T) {
	e := newExpEnv(t)
	unknownPipeline := specJSON("x")
	unknownPipeline["candidate"] = map[string]any{"pipeline": "no-such-pipeline"}
	for _, tt := range []struct {
		name, query string
		body        any
		want        []string
	}{
		{"empty body", "", "", []string{"experiment spec"}},
		{"not yaml", "", "name: [", []string{"experiment spec"}},
		{"unknown key", "", specYAML + "colour: red\n", []string{"colour"}},
		{"missing candidate", "", "name: x\ntargets: {selector: env=a}\nduration: 1m\n", []string{"candidate.pipeline: required"}},
		{"several problems", "", "name: x\ntargets: {selector: env=a}\ncandidate: {pipeline: topk}\nduration: 1s\nmode: sideways\n",
			[]string{"duration: must be at least 2m0s", `mode: "sideways" is not paired or split`}},
		{"unknown pipeline", "", unknownPipeline, []string{"invalid experiment spec", `pipeline "no-such-pipeline"`}},
		{"too large", "", strings.Repeat("#", 1<<20+1), []string{"request body: http: request body too large"}},
		{"start is not a boolean", "?start=please", specYAML, []string{`start: want true or false, got "please"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.as(t, experimenterToken, http.MethodPost, "/experiments"+tt.query, tt.body)
			got := apiError(t, r, http.StatusBadRequest, apitypes.CodeBadRequest)
			for _, want := range tt.want {
				assert.Contains(t, got.Message, want)
			}
		})
	}
	xs, _ := data[[]experiments.Experiment](t, e.as(t, viewerToken, http.MethodGet, "/experiments", nil))
	assert.Empty(t, xs, "nothing was created")
}

func TestListExperimentsFiltersAndPages(t *testing.T) {
	e := newExpEnv(t)
	var pending []string
	for i := range 3 {
		pending = append(pending, e.create(t, fmt.Sprintf("exp %d", i)).ID)
	}
	stopped := e.create(t, "stopped")
	data[experiments.Experiment](t, e.as(t, experimenterToken, http.MethodPost, "/experiments/"+stopped.ID+"/stop", nil))
	e.c.ReconcileAll(t.Context())

	var got []string
	path := "/experiments?status=pending&limit=2"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 3)
		xs, meta := data[[]experiments.Experiment](t, e.as(t, viewerToken, http.MethodGet, path, nil))
		assert.LessOrEqual(t, len(xs), 2)
		for _, x := range xs {
			got = append(got, x.ID)
		}
		if meta.NextCursor == "" {
			break
		}
		path = "/experiments?status=pending&limit=2&cursor=" + meta.NextCursor
	}
	assert.Equal(t, pending, got, "in creation order")

	xs, _ := data[[]experiments.Experiment](t, e.as(t, viewerToken, http.MethodGet, "/experiments?status=cancelled,completed", nil))
	require.Len(t, xs, 1)
	assert.Equal(t, stopped.ID, xs[0].ID)
	all, _ := data[[]experiments.Experiment](t, e.as(t, viewerToken, http.MethodGet, "/experiments", nil))
	assert.Len(t, all, 4)

	for _, bad := range []string{"?limit=0", "?limit=many", "?limit=1001", "?status=sideways", "?cursor=garbage"} {
		apiError(t, e.as(t, viewerToken, http.MethodGet, "/experiments"+bad, nil), http.StatusBadRequest, apitypes.CodeBadRequest)
	}
}

func TestGetExperiment(t *testing.T) {
	e := newExpEnv(t)
	created := e.create(t, "one")
	x, _ := data[experiments.Experiment](t, e.as(t, viewerToken, http.MethodGet, "/experiments/"+created.ID, nil))
	assert.Equal(t, created.ID, x.ID)
	assert.Equal(t, "one", x.Name)
	require.Len(t, x.Events, 1)
	assert.Equal(t, "created", x.Events[0].Cause)

	got := apiError(t, e.as(t, viewerToken, http.MethodGet, "/experiments/exp-none", nil), http.StatusNotFound, apitypes.CodeNotFound)
	assert.Equal(t, "experiment not found", got.Message)
}

// A view without targets leaves state.targets out; every view summarises
// them, applied or not, by variant.
func TestGetExperimentWithoutTargets(t *testing.T) {
	e := newExpEnv(t)
	ctx := t.Context()
	for _, uid := range []string{"agent-1", "agent-2", "agent-3"} {
		putAgent(t, e.store, apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": "test"}, Online: true,
			Health: &apitypes.Health{Healthy: true}})
		_, err := e.store.SetAssignment(ctx, apitypes.Assignment{InstanceUID: uid, Config: validConfig, Reason: "before"})
		require.NoError(t, err)
	}
	created, _ := data[experiments.Experiment](t, e.as(t, experimenterToken, http.MethodPost, "/experiments?start=true", specYAML+"mode: split\n"))
	e.c.ReconcileAll(ctx)
	x, err := e.c.Get(ctx, created.ID)
	require.NoError(t, err)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	require.Len(t, x.State.Targets, 3)
	first := x.State.Targets[0]
	a, err := e.store.GetAgent(ctx, first.InstanceUID)
	require.NoError(t, err)
	a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: first.ConfigHash, Status: apitypes.ConfigStatusApplied}
	require.NoError(t, e.store.UpsertAgent(ctx, a))
	e.c.ReconcileAll(ctx)
	x, err = e.c.Get(ctx, created.ID)
	require.NoError(t, err)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, "two of three have not applied")

	want := apitypes.TargetSummary{Total: 3, Applied: 1, ByVariant: map[string]apitypes.VariantTargets{}}
	for _, tg := range x.State.Targets {
		v := want.ByVariant[tg.Variant]
		v.Total++
		if tg.InstanceUID == first.InstanceUID {
			v.Applied++
		}
		want.ByVariant[tg.Variant] = v
	}
	require.Len(t, want.ByVariant, 2, "split mode: baseline and candidate")

	small := e.as(t, viewerToken, http.MethodGet, "/experiments/"+x.ID+"?targets=false", nil)
	view, _ := data[apitypes.Experiment](t, small)
	assert.Nil(t, view.State.Targets)
	assert.NotContains(t, string(small.body), `"instance_uid"`)
	require.NotNil(t, view.State.TargetSummary)
	assert.Equal(t, want, *view.State.TargetSummary)
	assert.Equal(t, x.Status, view.Status)
	assert.NotEmpty(t, view.Events)

	for _, query := range []string{"", "?targets=true", "?targets=1"} {
		full, _ := data[apitypes.Experiment](t, e.as(t, viewerToken, http.MethodGet, "/experiments/"+x.ID+query, nil))
		assert.Len(t, full.State.Targets, 3, query)
		require.NotNil(t, full.State.TargetSummary, query)
		assert.Equal(t, want, *full.State.TargetSummary, query)
	}
	// The list summarises each experiment's targets and lists none.
	list := e.as(t, viewerToken, http.MethodGet, "/experiments", nil)
	listed, _ := data[[]apitypes.Experiment](t, list)
	require.Len(t, listed, 1)
	assert.Nil(t, listed[0].State.Targets)
	assert.NotContains(t, string(list.body), `"instance_uid"`)
	require.NotNil(t, listed[0].State.TargetSummary)
	assert.Equal(t, want, *listed[0].State.TargetSummary)

	got := apiError(t, e.as(t, viewerToken, http.MethodGet, "/experiments/"+x.ID+"?targets=bogus", nil), http.StatusBadRequest, apitypes.CodeBadRequest)
	assert.Equal(t, `targets: want true or false, got "bogus"`, got.Message)

	// A new experiment has no targets yet: its summary says so.
	pending, _ := data[apitypes.Experiment](t, e.as(t, viewerToken, http.MethodGet, "/experiments/"+e.create(t, "later").ID+"?targets=false", nil))
	require.NotNil(t, pending.State.TargetSummary)
	assert.Equal(t, apitypes.TargetSummary{}, *pending.State.TargetSummary)
}

func TestExperimentActionsInTheWrongStateConflict(t *testing.T) {
	e := newExpEnv(t)
	pending := e.create(t, "pending")
	for _, action := range []string{"promote", "rollback"} {
		got := apiError(t, e.as(t, operatorToken, http.MethodPost, "/experiments/"+pending.ID+"/"+action, nil), http.StatusConflict, apitypes.CodeConflict)
		assert.Contains(t, got.Message, "not allowed in this state", action)
	}
	got := apiError(t, e.as(t, viewerToken, http.MethodGet, "/experiments/"+pending.ID+"/results", nil), http.StatusConflict, apitypes.CodeConflict)
	assert.Contains(t, got.Message, "no results yet (experiment is pending")

	done := e.completed(t)
	for _, action := range []string{"start", "stop"} {
		got := apiError(t, e.as(t, experimenterToken, http.MethodPost, "/experiments/"+done.ID+"/"+action, nil), http.StatusConflict, apitypes.CodeConflict)
		assert.Contains(t, got.Message, "completed", action)
	}
	for _, action := range []string{"start", "stop"} {
		apiError(t, e.as(t, experimenterToken, http.MethodPost, "/experiments/exp-none/"+action, nil), http.StatusNotFound, apitypes.CodeNotFound)
	}
}

func TestExperimentLifecycleOverTheAPI(t *testing.T) {
	e := newExpEnv(t)
	x := e.completed(t)

	view, _ := data[apitypes.ExperimentResults](t, e.as(t, viewerToken, http.MethodGet, "/experiments/"+x.ID+"/results", nil))
	assert.True(t, view.Final)
	assert.Equal(t, 1, view.Results.Targets)

	r := e.as(t, viewerToken, http.MethodGet, "/experiments/"+x.ID+"/report", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"))
	assert.Equal(t, "<!doctype html><title>web topk</title>", string(r.body))
	apiError(t, e.as(t, viewerToken, http.MethodGet, "/experiments/exp-none/report", nil), http.StatusNotFound, apitypes.CodeNotFound)

	got := apiError(t, e.as(t, operatorToken, http.MethodPost, "/experiments/"+x.ID+"/promote", map[string]any{"waves": []float64{10, 5, 100}}),
		http.StatusBadRequest, apitypes.CodeBadRequest)
	assert.Equal(t, "invalid request: waves: 5 after 10: each wave must reach more of the targets than the one before", got.Message)
	apiError(t, e.as(t, operatorToken, http.MethodPost, "/experiments/"+x.ID+"/promote", map[string]any{"wave": []float64{100}}),
		http.StatusBadRequest, apitypes.CodeBadRequest)

	promoted, _ := data[experiments.Experiment](t, e.as(t, operatorToken, http.MethodPost, "/experiments/"+x.ID+"/promote",
		map[string]any{"waves": []float64{50, 100}, "gate_timeout": "2m"}))
	assert.True(t, promoted.State.Promoted)
	require.NotNil(t, promoted.State.Rollout)
	assert.Equal(t, apitypes.RolloutRolling, promoted.State.Rollout.State)
	assert.Equal(t, apitypes.Duration(2*time.Minute), promoted.State.Rollout.GateTimeout)
	require.Len(t, promoted.State.Rollout.Waves, 1, "one agent is one wave")
	assert.Equal(t, apitypes.WaveRolling, promoted.State.Rollout.Waves[0].State)
	asg, err := e.store.GetAssignment(t.Context(), "agent-1")
	require.NoError(t, err)
	assert.Equal(t, "topk-rollup", asg.Pipeline)
	got = apiError(t, e.as(t, operatorToken, http.MethodPost, "/experiments/"+x.ID+"/promote", nil), http.StatusConflict, apitypes.CodeConflict)
	assert.Contains(t, got.Message, "a rollout is in progress (wave 1 of 1)")

	rolled, _ := data[experiments.Experiment](t, e.as(t, operatorToken, http.MethodPost, "/experiments/"+x.ID+"/rollback", nil))
	assert.True(t, rolled.State.RolledBack)
	asg, err = e.store.GetAssignment(t.Context(), "agent-1")
	require.NoError(t, err)
	assert.Equal(t, validConfig, asg.Config, "agent-1 is back on its configuration")
}

func TestExperimentPermissions(t *testing.T) {
	e := newExpEnv(t)
	x := e.completed(t)
	// Started below: it must not deploy to agent-1 behind the test's back.
	elsewhere := specJSON("pending")
	elsewhere["targets"] = map[string]any{"selector": "env=elsewhere"}
	pending, _ := data[experiments.Experiment](t, e.as(t, experimenterToken, http.MethodPost, "/experiments", elsewhere))
	for _, tt := range []struct {
		token, method, path string
		body                any
		status              int
	}{
		{viewerToken, http.MethodGet, "/experiments", nil, http.StatusOK},
		{viewerToken, http.MethodGet, "/experiments/" + x.ID, nil, http.StatusOK},
		{viewerToken, http.MethodGet, "/experiments/" + x.ID + "/results", nil, http.StatusOK},
		{viewerToken, http.MethodGet, "/experiments/" + x.ID + "/report", nil, http.StatusOK},
		{viewerToken, http.MethodPost, "/experiments", specYAML, http.StatusForbidden},
		{viewerToken, http.MethodPost, "/experiments/" + pending.ID + "/start", nil, http.StatusForbidden},
		{viewerToken, http.MethodPost, "/experiments/" + pending.ID + "/stop", nil, http.StatusForbidden},
		{operatorToken, http.MethodPost, "/experiments", specYAML, http.StatusForbidden},
		{operatorToken, http.MethodPost, "/experiments/" + pending.ID + "/start", nil, http.StatusForbidden},
		{experimenterToken, http.MethodPost, "/experiments/" + x.ID + "/promote", nil, http.StatusForbidden},
		{experimenterToken, http.MethodPost, "/experiments/" + x.ID + "/rollback", nil, http.StatusForbidden},
		{experimenterToken, http.MethodPost, "/experiments", specYAML, http.StatusCreated},
		{experimenterToken, http.MethodPost, "/experiments/" + pending.ID + "/start", nil, http.StatusOK},
		{operatorToken, http.MethodPost, "/experiments/" + x.ID + "/promote", nil, http.StatusOK},
		{"no-such-token", http.MethodGet, "/experiments", nil, http.StatusUnauthorized},
	} {
		r := e.as(t, tt.token, tt.method, tt.path, tt.body)
		assert.Equal(t, tt.status, r.status, "%s %s as %.8s: %s", tt.method, tt.path, tt.token, r.body)
		if tt.status == http.StatusForbidden {
			apiError(t, r, http.StatusForbidden, apitypes.CodeForbidden)
		}
	}
	asg, err := e.store.GetAssignment(t.Context(), "agent-1")
	require.NoError(t, err)
	assert.Equal(t, "topk-rollup", asg.Pipeline, "only the operator's promotion happened")
}

func TestExperimentsNeedAReport(t *testing.T) {
	e := newExpEnv(t)
	_, err := New(Settings{Store: e.store, Catalog: e.api.set.Catalog, Assignments: e.api.set.Assignments, Metrics: e.metrics, Experiments: e.c})
	assert.ErrorContains(t, err, "Report is required")
}
