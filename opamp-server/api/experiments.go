package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/opamp-server/redact"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

// ReportFunc writes an experiment's self-contained HTML report.
type ReportFunc func(ctx context.Context, id string, w io.Writer) error

func (a *API) experimentRoutes() []route {
	return []route{
		{http.MethodPost, "/experiments", auth.PermExperiment, a.createExperiment},
		{http.MethodGet, "/experiments", auth.PermRead, a.listExperiments},
		{http.MethodGet, "/experiments/{id}", auth.PermRead, a.getExperiment},
		{http.MethodPost, "/experiments/{id}/start", auth.PermExperiment, a.experimentAction(a.set.Experiments.Start)},
		{http.MethodPost, "/experiments/{id}/stop", auth.PermExperiment, a.experimentAction(a.set.Experiments.Stop)},
		{http.MethodPost, "/experiments/{id}/promote", auth.PermConfigure, a.promoteExperiment},
		{http.MethodPost, "/experiments/{id}/rollback", auth.PermConfigure, a.experimentAction(a.set.Experiments.Rollback)},
		{http.MethodGet, "/experiments/{id}/results", auth.PermRead, a.experimentResults},
		{http.MethodGet, "/experiments/{id}/report", auth.PermRead, a.experimentReport},
	}
}

func experimentError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, experiments.ErrInvalidSpec), errors.Is(err, experiments.ErrInvalidRequest):
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
	case errors.Is(err, experiments.ErrState), errors.Is(err, analysis.ErrInsufficientData):
		fail(w, http.StatusConflict, apitypes.CodeConflict, err.Error(), nil)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalid):
		storeError(w, err, "experiment")
	default:
		if _, invalid := distribution.AsInvalid(err); invalid {
			fail(w, http.StatusUnprocessableEntity, apitypes.CodeInvalid, err.Error(), nil)
			return
		}
		if _, invalid := catalog.AsInvalidParams(err); invalid {
			fail(w, http.StatusBadRequest, apitypes.CodeInvalidParameters, err.Error(), nil)
			return
		}
		fail(w, http.StatusInternalServerError, apitypes.CodeInternal, err.Error(), nil)
	}
}

// createExperiment: POST /experiments[?start=true] with a spec.
func (a *API) createExperiment(w http.ResponseWriter, r *http.Request) {
	start := false
	if s := r.URL.Query().Get("start"); s != "" {
		var err error
		if start, err = strconv.ParseBool(s); err != nil {
			fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "start: want true or false, got "+strconv.Quote(s), nil)
			return
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "request body: "+err.Error(), nil)
		return
	}
	spec, err := experiments.ParseSpec(raw)
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
		return
	}
	// The controller trusts the variables the spec's parameters name when
	// it deploys: they are checked here, against the creator's grants.
	if denied := a.deniedSpecEnv(spec); len(denied) > 0 && !a.grants(r).HostAccess {
		a.assignError(w, &assignment.HostAccessError{Params: denied})
		return
	}
	x, err := a.set.Experiments.Create(r.Context(), spec)
	if err != nil {
		experimentError(w, err)
		return
	}
	if start {
		if x, err = a.set.Experiments.Start(r.Context(), x.ID); err != nil {
			experimentError(w, err)
			return
		}
	}
	ok(w, r, http.StatusCreated, experimentView(x.Experiment), "")
}

// deniedSpecEnv lists the environment variables an experiment spec's
// parameters name that a caller without host access may not name: the
// shared parameters as every candidate's pipeline reads them, and each
// variant's own.
func (a *API) deniedSpecEnv(spec apitypes.ExperimentSpec) []catalog.EnvUse {
	refs := []apitypes.NamedVariant{{Pipeline: spec.Baseline.Pipeline, Parameters: spec.Baseline.Parameters}}
	if len(spec.Candidates) == 0 {
		refs = append(refs, apitypes.NamedVariant{Pipeline: spec.Candidate.Pipeline, Parameters: spec.Candidate.Parameters})
	}
	refs = append(refs, spec.Candidates...)
	var denied []catalog.EnvUse
	seen := map[string]bool{}
	for _, v := range refs[1:] {
		if !seen[v.Pipeline] {
			seen[v.Pipeline] = true
			denied = append(denied, a.set.Assignments.DeniedEnv(v.Pipeline, spec.Parameters, "")...)
		}
	}
	for _, v := range refs {
		denied = append(denied, a.set.Assignments.DeniedEnv(v.Pipeline, v.Parameters, "")...)
	}
	return denied
}

// listExperiments: GET /experiments?status=running,completed&limit=&cursor=
func (a *API) listExperiments(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var status []apitypes.ExperimentStatus
	if s := q.Get("status"); s != "" {
		for v := range strings.SplitSeq(s, ",") {
			status = append(status, apitypes.ExperimentStatus(v))
		}
	}
	limit, err := limitParam(q.Get("limit"))
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
		return
	}
	xs, next, err := a.set.Experiments.List(r.Context(), status, store.Page{After: q.Get("cursor"), Limit: limit})
	if err != nil {
		experimentError(w, err)
		return
	}
	// Each experiment's targets are summarised, not listed: a page of
	// fleet-wide experiments would otherwise carry every agent of each.
	views := make([]apitypes.Experiment, len(xs))
	for i, x := range xs {
		views[i] = withoutTargets(x.Experiment)
	}
	ok(w, r, http.StatusOK, views, next)
}

// getExperiment: GET /experiments/{id}[?targets=false]. Without targets the
// view stays small however large the fleet: pollers ask for it so.
func (a *API) getExperiment(w http.ResponseWriter, r *http.Request) {
	targets := true
	if s := r.URL.Query().Get("targets"); s != "" {
		var err error
		if targets, err = strconv.ParseBool(s); err != nil {
			fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "targets: want true or false, got "+strconv.Quote(s), nil)
			return
		}
	}
	x, err := a.set.Experiments.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		experimentError(w, err)
		return
	}
	view := withoutTargets
	if targets {
		view = experimentView
	}
	ok(w, r, http.StatusOK, view(x.Experiment), "")
}

func (a *API) experimentAction(action func(context.Context, string) (experiments.Experiment, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x, err := action(r.Context(), r.PathValue("id"))
		if err != nil {
			experimentError(w, err)
			return
		}
		ok(w, r, http.StatusOK, experimentView(x.Experiment), "")
	}
}

func (a *API) experimentResults(w http.ResponseWriter, r *http.Request) {
	results, err := a.set.Experiments.Results(r.Context(), r.PathValue("id"))
	if err != nil {
		experimentError(w, err)
		return
	}
	results.Results = resultsView(results.Results)
	ok(w, r, http.StatusOK, results, "")
}

func (a *API) experimentReport(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := a.set.Report(r.Context(), r.PathValue("id"), &buf); err != nil {
		experimentError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

func limitParam(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1000 {
		return 0, errors.New("limit: want an integer between 1 and 1000")
	}
	return n, nil
}

// experimentView is an experiment without the secrets its configurations
// and parameters may hold, with its targets' summary: viewers read it.
func experimentView(x apitypes.Experiment) apitypes.Experiment {
	view := withoutTargets(x)
	if x.State.Targets != nil {
		view.State.Targets = make([]apitypes.ExperimentTarget, len(x.State.Targets))
		for i, t := range x.State.Targets {
			t.Previous.Config = redact.Config(t.Previous.Config)
			t.Previous.Parameters = redact.Params(t.Previous.Parameters)
			view.State.Targets[i] = t
		}
	}
	return view
}

// withoutTargets is experimentView without the targets, which it summarises:
// no time goes into redacting targets left out.
func withoutTargets(x apitypes.Experiment) apitypes.Experiment {
	x.Spec.Parameters = redact.Params(x.Spec.Parameters)
	x.Spec.Baseline.Parameters = redact.Params(x.Spec.Baseline.Parameters)
	x.Spec.Candidate.Parameters = redact.Params(x.Spec.Candidate.Parameters)
	if x.Spec.Candidates != nil {
		// A copy: the caller's experiment keeps its parameters.
		cands := make([]apitypes.NamedVariant, len(x.Spec.Candidates))
		for i, c := range x.Spec.Candidates {
			c.Parameters = redact.Params(c.Parameters)
			cands[i] = c
		}
		x.Spec.Candidates = cands
	}
	if x.State.Results != nil {
		res := resultsView(*x.State.Results)
		x.State.Results = &res
	}
	if x.State.Configs != nil {
		configs := make(map[string]string, len(x.State.Configs))
		for k, v := range x.State.Configs {
			configs[k] = redact.Config(v)
		}
		x.State.Configs = configs
	}
	x.State.Rollout = rolloutView(x.State.Rollout)
	summary := summarizeTargets(x.State.Targets)
	x.State.TargetSummary = &summary
	x.State.Targets = nil
	return x
}

// resultsView are results without the secrets the candidates' parameters
// may hold.
func resultsView(r apitypes.Results) apitypes.Results {
	if r.Candidates == nil {
		return r
	}
	cands := make([]apitypes.CandidateResults, len(r.Candidates))
	for i, c := range r.Candidates {
		c.Parameters = redact.Params(c.Parameters)
		cands[i] = c
	}
	r.Candidates = cands
	return r
}

// summarizeTargets counts targets, in all and by variant.
func summarizeTargets(targets []apitypes.ExperimentTarget) apitypes.TargetSummary {
	s := apitypes.TargetSummary{Total: len(targets)}
	for _, t := range targets {
		if s.ByVariant == nil {
			s.ByVariant = map[string]apitypes.VariantTargets{}
		}
		v := s.ByVariant[t.Variant]
		v.Total++
		if t.Applied {
			v.Applied++
			s.Applied++
		}
		s.ByVariant[t.Variant] = v
	}
	return s
}

// rolloutView redacts the assignments a rollout's waves replaced, on a copy.
func rolloutView(r *apitypes.Rollout) *apitypes.Rollout {
	if r == nil {
		return nil
	}
	out := *r
	out.Waves = make([]apitypes.RolloutWave, len(r.Waves))
	for i, w := range r.Waves {
		w.Agents = slices.Clone(w.Agents)
		for j, ag := range w.Agents {
			if ag.Before != nil {
				b := *ag.Before
				b.Config, b.Parameters = redact.Config(b.Config), redact.Params(b.Parameters)
				w.Agents[j].Before = &b
			}
		}
		out.Waves[i] = w
	}
	return &out
}

// promoteExperiment: POST /experiments/{id}/promote with an optional body
// {"waves": [1, 10, 50, 100], "gate_timeout": "5m", "candidate": "NAME"}
// (candidate: which of several to promote).
func (a *API) promoteExperiment(w http.ResponseWriter, r *http.Request) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "request body: "+err.Error(), nil)
		return
	}
	var req apitypes.PromoteRequest
	if len(bytes.TrimSpace(raw)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "request body: "+err.Error(), nil)
			return
		}
	}
	x, err := a.set.Experiments.PromoteWith(r.Context(), r.PathValue("id"), req)
	if err != nil {
		experimentError(w, err)
		return
	}
	ok(w, r, http.StatusOK, experimentView(x.Experiment), "")
}
