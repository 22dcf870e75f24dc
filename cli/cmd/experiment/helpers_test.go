package experiment

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/opamp-server/api"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

const adminToken = "admin-token-for-tests"

// canned are the results the test analyzer reports, interim or final.
var canned = apitypes.Results{
	Mode: "paired", Targets: 2,
	Variants: []apitypes.VariantFigures{
		{Agents: 2, Figures: apitypes.Figures{Variant: "baseline", ActiveSeries: 450, DatapointsPerMinute: 900,
			BytesPerMinute: 54_000, ProcessResourcesPerMinute: 180, CriticalProcesses: 3}},
		{Agents: 2, Figures: apitypes.Figures{Variant: "candidate", ActiveSeries: 50, DatapointsPerMinute: 110,
			BytesPerMinute: 6_600, ProcessResourcesPerMinute: 180, CriticalProcesses: 3}},
	},
	Derived: apitypes.Derived{
		SeriesReduction:     apitypes.Estimate{Value: 0.885, Interval: &apitypes.Interval{Low: 0.8, High: 0.97, Confidence: 0.95, Method: apitypes.MethodPairedT}},
		DatapointsReduction: apitypes.Estimate{Value: 0.875},
		BytesReduction:      apitypes.Estimate{Value: 0.8778},
		CriticalRetention:   1,
	},
	Costs: []apitypes.ModelCost{{
		Model:         apitypes.PriceModel{Name: "newrelic", Title: "New Relic"},
		Variants:      []apitypes.VariantCost{{Variant: "baseline", MonthlyPerHost: 12.5}, {Variant: "candidate", MonthlyPerHost: 1.5}},
		MonthlySaving: 22, SavingFraction: 0.88,
	}},
	Verdict: apitypes.Verdict{Pass: true, Checks: []apitypes.Check{
		{Criterion: apitypes.CriterionSeriesReduction, Outcome: apitypes.OutcomePass, Reason: "series reduction 88.5% ≥ 80% required"},
		{Criterion: apitypes.CriterionCriticalRetention, Outcome: apitypes.OutcomeFail, Reason: "critical retention 90% < 100% required"},
		{Criterion: apitypes.CriterionCPUIncrease, Outcome: apitypes.OutcomeNotJudged, Reason: "collector CPU is compared in split mode only"},
	}},
	Warnings: []string{"agent a1: counters restarted at 2026-03-02T09:02:00Z (collector restart)"},
}

// env is the real REST API and experiment controller over an embedded
// store, with a clock the test moves; the CLI is pointed at it.
type env struct {
	t   *testing.T
	st  store.Store
	c   *experiments.Controller
	url string

	mu  sync.Mutex
	now time.Time
	// beforeGet runs before the server answers GET /experiments/{id}: a
	// watch test moves the experiment on one step per poll.
	beforeGet func()
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	e.st = st
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	assign, err := assignment.New(assignment.Settings{Store: st, Catalog: cat, Validate: distribution.ValidateYAML})
	require.NoError(t, err)
	e.c, err = experiments.New(experiments.Settings{Store: st, Catalog: cat, Assignments: assign,
		Analyze: func(context.Context, experiments.Experiment, map[string][]apitypes.Sample) (apitypes.Results, error) {
			return canned, nil
		},
		Now: e.clock,
	})
	require.NoError(t, err)
	authn, err := auth.New([]auth.TokenEntry{{Name: "ada", TokenSHA256: auth.Digest(adminToken), Roles: []auth.Role{auth.RoleAdmin}}})
	require.NoError(t, err)
	a, err := api.New(api.Settings{Store: st, Catalog: cat, Assignments: assign, Auth: authn, Metrics: servermetrics.New(), Experiments: e.c,
		Report: func(ctx context.Context, id string, w io.Writer) error {
			x, err := e.c.Get(ctx, id)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "<!doctype html><title>%s</title>", html.EscapeString(x.Name))
			return err
		}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, _ := strings.CutPrefix(r.URL.Path, apitypes.Prefix+"/experiments/")
		if r.Method == http.MethodGet && rest != r.URL.Path && !strings.Contains(rest, "/") {
			e.mu.Lock()
			hook := e.beforeGet
			e.mu.Unlock()
			if hook != nil {
				hook()
			}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL

	t.Setenv("HOME", t.TempDir())
	t.Setenv(cmdutil.EnvServer, srv.URL)
	t.Setenv(cmdutil.EnvToken, adminToken)
	t.Setenv(cmdutil.EnvTokenFile, "")
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *env) client() *apiclient.Client { return apiclient.New(e.url, adminToken) }

// run executes `phoenix experiment args...`.
func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, out, errOut := cmdutil.Test()
	cmd := NewCmd(ios)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetOut(out)
	cmd.SetErr(errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// agent registers an online, healthy agent labelled env=test with an
// assignment to return to.
func (e *env) agent(uid string) {
	e.t.Helper()
	require.NoError(e.t, e.st.UpsertAgent(e.t.Context(), apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": "test"},
		Online: true, Health: &apitypes.Health{Healthy: true}, Description: apitypes.AgentDescription{HostName: "host-" + uid}}))
	_, err := e.st.SetAssignment(e.t.Context(), apitypes.Assignment{InstanceUID: uid, Pipeline: "baseline",
		Config: "receivers: {}\n", Reason: "before"})
	require.NoError(e.t, err)
}

func (e *env) spec(name string) apitypes.ExperimentSpec {
	return apitypes.ExperimentSpec{Name: name, Targets: apitypes.Targets{Selector: "env=test"},
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Duration: apitypes.Duration(2 * time.Minute), Warmup: apitypes.Duration(30 * time.Second)}
}

func (e *env) get(id string) apitypes.Experiment {
	e.t.Helper()
	x, err := e.c.Get(e.t.Context(), id)
	require.NoError(e.t, err)
	return x.Experiment
}

// Steps that move an experiment along, as the controller and the agents
// would.

func (e *env) deploy(id string) {
	e.t.Helper()
	_, err := e.c.Start(e.t.Context(), id)
	require.NoError(e.t, err)
	e.c.ReconcileAll(e.t.Context())
	require.Equal(e.t, apitypes.ExperimentDeploying, e.get(id).Status)
}

func (e *env) apply(id string) {
	e.t.Helper()
	for _, tg := range e.get(id).State.Targets {
		a, err := e.st.GetAgent(e.t.Context(), tg.InstanceUID)
		require.NoError(e.t, err)
		a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: tg.ConfigHash, Status: apitypes.ConfigStatusApplied}
		require.NoError(e.t, e.st.UpsertAgent(e.t.Context(), a))
	}
	e.c.ReconcileAll(e.t.Context())
	require.Equal(e.t, apitypes.ExperimentRunning, e.get(id).Status)
}

func (e *env) finish(id string) {
	e.t.Helper()
	e.advance(3 * time.Minute)
	e.c.ReconcileAll(e.t.Context())
	e.c.ReconcileAll(e.t.Context())
	require.Equal(e.t, apitypes.ExperimentCompleted, e.get(id).Status)
}

// completed is a completed experiment on two agents.
func (e *env) completed(name string) apitypes.Experiment {
	e.t.Helper()
	e.agent("a1")
	e.agent("a2")
	x, err := e.c.Create(e.t.Context(), e.spec(name))
	require.NoError(e.t, err)
	e.deploy(x.ID)
	e.apply(x.ID)
	e.finish(x.ID)
	return e.get(x.ID)
}
