package clitest

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/api"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/experiments"
)

// Results are the results the experiment server's analysis reports, interim
// or final: a paired experiment on two agents that passes, with a check of
// each outcome, a price model and a warning.
func Results() apitypes.Results {
	return apitypes.Results{
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
		Fidelity: &apitypes.Fidelity{
			Variant: "candidate", Agents: 2, CPUCoverage: ptr(0.931), MemoryCoverage: ptr(0.88),
			Conservation: []apitypes.Conservation{
				{Quantity: "cpu", Baseline: 1200, Candidate: 1200, Error: 0, Under1Percent: true},
				{Quantity: "disk", Baseline: 1 << 20, Candidate: 0.9 * (1 << 20), Error: 0.1},
			},
			Conserved: ptr(false), BlindSpotsPerHour: ptr(1.5), NotableProcessesPerHour: ptr(12.0),
			BlindSpotExamples: []apitypes.BlindSpotExample{
				{Name: "java", Host: "web-1", InstanceUID: "a1", Resource: "cpu", Peak: 2.5},
				{Name: "evil\x1b[31m", Host: "web-2", InstanceUID: "a2", Resource: "memory", Peak: 3 << 30},
			},
			Notes: []string{"network conservation not measured: the baseline counted none"},
		},
	}
}

func ptr[T any](v T) *T { return &v }

// MultiResults are Results() of an experiment that compared three
// candidates: topk-rollup-k10 passes and is the cheapest that does (ranked
// first, recommended, its figures on top), topk-k10 passes without CPU
// coverage figures, and topk-rollup-k5, the cheapest, fails on blind spots.
func MultiResults() apitypes.Results {
	r := Results()
	const first = "topk-rollup-k10"
	r.Variants[1].Variant = first
	r.Costs[0].Variants[1].Variant = first
	r.Fidelity.Variant = first
	r.Verdict = apitypes.Verdict{Pass: true, Checks: []apitypes.Check{
		{Criterion: apitypes.CriterionSeriesReduction, Outcome: apitypes.OutcomePass, Reason: "series reduction 88.5% ≥ 80% required"},
	}}
	model := r.Costs[0].Model
	cost := func(name string, perHost float64) []apitypes.ModelCost {
		return []apitypes.ModelCost{{Model: model, Variants: []apitypes.VariantCost{
			{Variant: "baseline", MonthlyPerHost: 12.5, Monthly: 25},
			{Variant: name, MonthlyPerHost: perHost, Monthly: 2 * perHost},
		}, MonthlySaving: 25 - 2*perHost, SavingFraction: 1 - perHost/12.5}}
	}
	figures := func(name string, active float64) apitypes.VariantFigures {
		return apitypes.VariantFigures{Agents: 2, Figures: apitypes.Figures{Variant: name, ActiveSeries: active, CriticalProcesses: 3}}
	}
	r.Candidates = []apitypes.CandidateResults{
		{Name: first, Pipeline: "topk-rollup", Parameters: map[string]any{"k": 10}, Rank: 1,
			Figures: figures(first, 50), Derived: r.Derived, Costs: cost(first, 1.5), Verdict: r.Verdict,
			Fidelity:      &apitypes.Fidelity{Variant: first, Agents: 2, CPUCoverage: ptr(0.931), Conserved: ptr(true), BlindSpotsPerHour: ptr(0.5)},
			ParetoOptimal: true},
		{Name: "topk-k10", Pipeline: "topk", Parameters: map[string]any{"k": 10, "rank_by": []any{"cpu", "memory"}}, Rank: 2,
			Figures: figures("topk-k10", 45), Derived: apitypes.Derived{SeriesReduction: apitypes.Estimate{Value: 0.9}, CriticalRetention: 1},
			Costs: cost("topk-k10", 2.25), Verdict: apitypes.Verdict{Pass: true}},
		{Name: "topk-rollup-k5", Pipeline: "topk-rollup", Parameters: map[string]any{"k": 5}, Rank: 3,
			Figures: figures("topk-rollup-k5", 30), Derived: apitypes.Derived{SeriesReduction: apitypes.Estimate{Value: 0.933}, CriticalRetention: 1},
			Costs: cost("topk-rollup-k5", 1),
			Verdict: apitypes.Verdict{Checks: []apitypes.Check{{Criterion: apitypes.CriterionBlindSpots, Outcome: apitypes.OutcomeFail,
				Reason: "3.20 blind spots per agent-hour > 1 allowed"}}},
			Fidelity:      &apitypes.Fidelity{Variant: "topk-rollup-k5", Agents: 2, CPUCoverage: ptr(0.8), Conserved: ptr(false), BlindSpotsPerHour: ptr(3.2)},
			ParetoOptimal: true},
	}
	r.Recommended = first
	return r
}

// ExperimentServer is a Server, with an admin token, that also runs the
// real experiment controller on a clock the test moves. Its analysis
// reports Results(); its HTML report is a title holding the experiment's
// name. The methods move experiments along as the controller and the agents
// would.
type ExperimentServer struct {
	*Server
	Controller *experiments.Controller

	t   *testing.T
	mu  sync.Mutex
	now time.Time
	// beforeGet runs before the server answers GET /experiments/{id}.
	beforeGet func()
	// gets are the queries of the GET /experiments/{id} requests.
	gets []string
}

// NewExperimentServer starts an ExperimentServer at 2026-03-02 09:00 UTC.
func NewExperimentServer(t *testing.T) *ExperimentServer {
	t.Helper()
	e := &ExperimentServer{t: t, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	extend := func(set *api.Settings) {
		c, err := experiments.New(experiments.Settings{Store: set.Store, Catalog: set.Catalog, Assignments: set.Assignments, Now: e.clock,
			Analyze: func(context.Context, experiments.Experiment, map[string][]apitypes.Sample) (apitypes.Results, error) {
				return Results(), nil
			},
		})
		require.NoError(t, err)
		e.Controller, set.Experiments = c, c
		set.Report = func(ctx context.Context, id string, w io.Writer) error {
			x, err := c.Get(ctx, id)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(w, "<!doctype html><title>%s</title>", html.EscapeString(x.Name))
			return err
		}
	}
	e.Server = newServer(t, auth.RoleAdmin, extend, e.beforeRequest)
	return e
}

func (e *ExperimentServer) beforeRequest(r *http.Request) {
	rest, found := strings.CutPrefix(r.URL.Path, apitypes.Prefix+"/experiments/")
	if r.Method != http.MethodGet || !found || strings.Contains(rest, "/") {
		return
	}
	e.mu.Lock()
	hook := e.beforeGet
	e.gets = append(e.gets, r.URL.RawQuery)
	e.mu.Unlock()
	if hook != nil {
		hook()
	}
}

// Gets are the queries of the experiment reads (GET /experiments/{id})
// so far, in order: "targets=false" for a read without targets.
func (e *ExperimentServer) Gets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.gets)
}

// Scripted makes each poll of an experiment (GET /experiments/{id}) take
// the next step first, then hold still once the steps run out: a watcher
// sees the experiment move on one step per poll.
func (e *ExperimentServer) Scripted(steps ...func()) {
	var mu sync.Mutex
	e.mu.Lock()
	defer e.mu.Unlock()
	e.beforeGet = func() {
		mu.Lock()
		defer mu.Unlock()
		if len(steps) > 0 {
			steps[0]()
			steps = steps[1:]
		}
	}
}

func (e *ExperimentServer) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

// Now is the controller's clock.
func (e *ExperimentServer) Now() time.Time { return e.clock() }

// Advance moves the controller's clock on.
func (e *ExperimentServer) Advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

// Agent registers an online, healthy agent labelled env=test, on host
// "host-UID", with an assignment to return to.
func (e *ExperimentServer) Agent(uid string) {
	e.t.Helper()
	ctx := e.t.Context()
	require.NoError(e.t, e.Store.UpsertAgent(ctx, apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": "test"},
		Online: true, Health: &apitypes.Health{Healthy: true}, Description: apitypes.AgentDescription{HostName: "host-" + uid}}))
	_, err := e.Store.SetAssignment(ctx, apitypes.Assignment{InstanceUID: uid, Pipeline: "baseline",
		Config: "receivers: {}\n", Reason: "before"})
	require.NoError(e.t, err)
}

// Spec is a paired spec of baseline vs topk-rollup on env=test agents:
// 30s of warm-up, 2m of measuring.
func (e *ExperimentServer) Spec(name string) apitypes.ExperimentSpec {
	return apitypes.ExperimentSpec{Name: name, Targets: apitypes.Targets{Selector: "env=test"},
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Duration: apitypes.Duration(2 * time.Minute), Warmup: apitypes.Duration(30 * time.Second)}
}

// Create creates an experiment of Spec(name), pending.
func (e *ExperimentServer) Create(name string) apitypes.Experiment {
	e.t.Helper()
	x, err := e.Controller.Create(e.t.Context(), e.Spec(name))
	require.NoError(e.t, err)
	return x.Experiment
}

// Get returns the experiment as the controller has it.
func (e *ExperimentServer) Get(id string) apitypes.Experiment {
	e.t.Helper()
	x, err := e.Controller.Get(e.t.Context(), id)
	require.NoError(e.t, err)
	return x.Experiment
}

// Deploy starts a pending experiment: its configurations go out.
func (e *ExperimentServer) Deploy(id string) {
	e.t.Helper()
	_, err := e.Controller.Start(e.t.Context(), id)
	require.NoError(e.t, err)
	e.Controller.ReconcileAll(e.t.Context())
	require.Equal(e.t, apitypes.ExperimentDeploying, e.Get(id).Status)
}

// Apply has every target report its configuration applied: the
// experiment runs.
func (e *ExperimentServer) Apply(id string) {
	e.t.Helper()
	ctx := e.t.Context()
	for _, tg := range e.Get(id).State.Targets {
		a, err := e.Store.GetAgent(ctx, tg.InstanceUID)
		require.NoError(e.t, err)
		a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: tg.ConfigHash, Status: apitypes.ConfigStatusApplied}
		require.NoError(e.t, e.Store.UpsertAgent(ctx, a))
	}
	e.Controller.ReconcileAll(ctx)
	require.Equal(e.t, apitypes.ExperimentRunning, e.Get(id).Status)
}

// Finish moves the clock past a running experiment's window: it is
// analysed and completes.
func (e *ExperimentServer) Finish(id string) {
	e.t.Helper()
	e.Advance(3 * time.Minute)
	e.Controller.ReconcileAll(e.t.Context())
	e.Controller.ReconcileAll(e.t.Context())
	require.Equal(e.t, apitypes.ExperimentCompleted, e.Get(id).Status)
}

// Completed is a completed experiment on two new agents, a1 and a2.
func (e *ExperimentServer) Completed(name string) apitypes.Experiment {
	e.t.Helper()
	e.Agent("a1")
	e.Agent("a2")
	x := e.Create(name)
	e.Deploy(x.ID)
	e.Apply(x.ID)
	e.Finish(x.ID)
	return e.Get(x.ID)
}

// LiveStatuses are the statuses of an experiment's live lines ("ID STATUS
// [bar] ..."), one per line of out.
func LiveStatuses(t *testing.T, id, out string) []string {
	t.Helper()
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		fields := strings.Fields(line)
		require.GreaterOrEqual(t, len(fields), 2, "line %q", line)
		require.Equal(t, id, fields[0], "line %q", line)
		got = append(got, fields[1])
	}
	return got
}
