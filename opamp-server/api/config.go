package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/selector"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

func renderedView(r catalog.Rendered) apitypes.Rendered {
	return apitypes.Rendered{Pipeline: r.Pipeline, Version: r.Version, Params: r.Params, Config: string(r.Config), Hash: r.Hash}
}

// withAgentParams adds the per-agent parameters a pipeline declares (its
// identity and own-telemetry destination) unless the caller set them.
func (a *API) withAgentParams(name, uid string, params map[string]any) map[string]any {
	if a.set.AgentParams == nil || uid == "" {
		return params
	}
	out := make(map[string]any, len(params)+4)
	for k, v := range params {
		out[k] = v
	}
	for k, v := range a.set.AgentParams(uid) {
		if _, given := out[k]; given {
			continue
		}
		if _, declared := a.set.Catalog.Declares(name, k); declared {
			out[k] = v
		}
	}
	return out
}

// renderFor produces the assignment an agent would get; a non-nil error has
// already been written to w.
func (a *API) renderFor(w http.ResponseWriter, r *http.Request, uid string, req apitypes.AssignRequest) (*apitypes.Assignment, bool) {
	if (req.Pipeline == "") == (req.Config == "") {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "give exactly one of pipeline or config", nil)
		return nil, false
	}
	asg := &apitypes.Assignment{InstanceUID: uid, Reason: req.Reason}
	if asg.Reason == "" {
		asg.Reason = "assigned by " + principal(r.Context())
	}
	if req.Config != "" {
		if err := distribution.ValidateYAML(r.Context(), []byte(req.Config)); err != nil {
			a.renderError(w, err)
			return nil, false
		}
		asg.Config = req.Config
		asg.ConfigHash = store.HashConfig([]byte(req.Config))
		return asg, true
	}
	rendered, err := a.set.Catalog.Render(r.Context(), req.Pipeline, a.withAgentParams(req.Pipeline, uid, req.Parameters))
	if err != nil {
		a.renderError(w, err)
		return nil, false
	}
	asg.Pipeline, asg.Parameters, asg.Config, asg.ConfigHash = rendered.Pipeline, rendered.Params, string(rendered.Config), rendered.Hash
	return asg, true
}

// renderError reports a refused configuration: validation problems with
// their paths as details, parameter errors as bad requests.
func (a *API) renderError(w http.ResponseWriter, err error) {
	a.set.Metrics.ConfigRejected.Inc()
	if invalid, ok := distribution.AsInvalid(err); ok {
		fail(w, http.StatusUnprocessableEntity, apitypes.CodeInvalid, "the configuration is invalid; nothing was stored or sent", configProblems(invalid.Problems))
		return
	}
	if invalid, ok := catalog.AsInvalidParams(err); ok {
		fail(w, http.StatusBadRequest, apitypes.CodeInvalidParameters, "invalid parameters; nothing was stored or sent", paramProblems(invalid.Problems))
		return
	}
	if errors.Is(err, catalog.ErrUnknownPipeline) {
		fail(w, http.StatusNotFound, apitypes.CodeNotFound, err.Error(), nil)
		return
	}
	fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
}

func (a *API) store(w http.ResponseWriter, r *http.Request, asg *apitypes.Assignment) (apitypes.Assignment, bool) {
	stored, err := a.set.Store.SetAssignment(r.Context(), *asg)
	if err != nil {
		storeError(w, err, "assignment")
		return stored, false
	}
	if a.set.Pusher != nil {
		if err := a.set.Pusher.Push(r.Context(), stored.InstanceUID); err != nil {
			// Stored is what counts: the agent receives it on its next message.
			a.set.Logger.Warn("immediate push failed", "agent", stored.InstanceUID, "error", err)
		}
	}
	return stored, true
}

// assignAgent: PUT /agents/{uid}/config
func (a *API) assignAgent(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	var req apitypes.AssignRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if _, err := a.set.Store.GetAgent(r.Context(), uid); err != nil {
		storeError(w, err, "agent")
		return
	}
	asg, good := a.renderFor(w, r, uid, req)
	if !good {
		return
	}
	stored, good := a.store(w, r, asg)
	if !good {
		return
	}
	ok(w, r, http.StatusOK, assignmentView(stored, true), "")
}

// unassignAgent: DELETE /agents/{uid}/config
func (a *API) unassignAgent(w http.ResponseWriter, r *http.Request) {
	if err := a.set.Store.DeleteAssignment(r.Context(), r.PathValue("uid")); err != nil {
		storeError(w, err, "assignment")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// assignMany: POST /assignments. Every matching agent's configuration is
// rendered and validated before any is stored: all or nothing.
func (a *API) assignMany(w http.ResponseWriter, r *http.Request) {
	var req apitypes.BulkAssignRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Selector) == "" {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "selector is required (use a label such as env=prod)", nil)
		return
	}
	sel, err := selector.Parse(req.Selector)
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
		return
	}
	agents, err := a.matchingAgents(r.Context(), sel)
	if err != nil {
		storeError(w, err, "agents")
		return
	}
	if len(agents) == 0 {
		fail(w, http.StatusNotFound, apitypes.CodeNotFound, "no agent matches selector "+sel.String(), nil)
		return
	}
	pending := make([]*apitypes.Assignment, 0, len(agents))
	for _, ag := range agents {
		asg, good := a.renderFor(w, r, ag.InstanceUID, req.AssignRequest)
		if !good {
			return
		}
		pending = append(pending, asg)
	}
	results := make([]apitypes.AssignResult, 0, len(pending))
	for _, asg := range pending {
		stored, good := a.store(w, r, asg)
		if !good {
			return
		}
		results = append(results, apitypes.AssignResult{InstanceUID: stored.InstanceUID, ConfigHash: stored.ConfigHash, Generation: stored.Generation})
	}
	ok(w, r, http.StatusOK, results, "")
}

// matchingAgents lists every agent a selector matches, across all pages.
func (a *API) matchingAgents(ctx context.Context, sel selector.Selector) ([]apitypes.Agent, error) {
	var out []apitypes.Agent
	page := store.Page{Limit: 1000}
	for {
		agents, next, err := a.set.Store.ListAgents(ctx, store.AgentFilter{Labels: sel.Equalities()}, page)
		if err != nil {
			return nil, err
		}
		for _, ag := range agents {
			if sel.Matches(ag.Labels) {
				out = append(out, ag)
			}
		}
		if next == "" {
			return out, nil
		}
		page.After = next
	}
}

// listPipelines: GET /pipelines
func (a *API) listPipelines(w http.ResponseWriter, r *http.Request) {
	list := a.set.Catalog.List()
	views := make([]apitypes.Pipeline, len(list))
	for i, p := range list {
		views[i] = pipelineView(p)
	}
	ok(w, r, http.StatusOK, views, "")
}

// getPipeline: GET /pipelines/{name}
func (a *API) getPipeline(w http.ResponseWriter, r *http.Request) {
	p, err := a.set.Catalog.Get(r.PathValue("name"))
	if err != nil {
		fail(w, http.StatusNotFound, apitypes.CodeNotFound, "pipeline "+r.PathValue("name")+" not found", nil)
		return
	}
	ok(w, r, http.StatusOK, pipelineView(p), "")
}

// renderPipeline: POST /pipelines/{name}/render  {"parameters": {...}}
func (a *API) renderPipeline(w http.ResponseWriter, r *http.Request) {
	var req apitypes.RenderRequest
	if !decodeBody(w, r, &req) {
		return
	}
	rendered, err := a.set.Catalog.Render(r.Context(), r.PathValue("name"), req.Parameters)
	if err != nil {
		a.renderError(w, err)
		return
	}
	ok(w, r, http.StatusOK, renderedView(rendered), "")
}

// validateConfig: POST /pipelines/validate  {"config": "..."}
func (a *API) validateConfig(w http.ResponseWriter, r *http.Request) {
	var req apitypes.ValidateRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := distribution.ValidateYAML(r.Context(), []byte(req.Config)); err != nil {
		a.renderError(w, err)
		return
	}
	ok(w, r, http.StatusOK, apitypes.Validated{Valid: true, ConfigHash: store.HashConfig([]byte(req.Config))}, "")
}

// configProblems are a refused configuration's problems as the API shows them.
func configProblems(ps []distribution.Problem) []apitypes.Problem {
	out := make([]apitypes.Problem, len(ps))
	for i, p := range ps {
		out[i] = apitypes.Problem{Path: p.Path, Message: p.Message}
	}
	return out
}

// paramProblems are refused parameters as the API shows them.
func paramProblems(ps []catalog.ParamError) []apitypes.Problem {
	out := make([]apitypes.Problem, len(ps))
	for i, p := range ps {
		out[i] = apitypes.Problem{Arm: p.Arm, Param: p.Param, Message: p.Message}
	}
	return out
}

// pipelineView is a catalog entry as the API shows it.
func pipelineView(p catalog.Pipeline) apitypes.Pipeline {
	v := apitypes.Pipeline{Name: p.Name, Version: p.Version, Title: p.Title, Description: p.Description,
		Recommended: p.Recommended, Processors: p.Processors, Params: make([]apitypes.PipelineParam, len(p.Params))}
	for i, q := range p.Params {
		v.Params[i] = apitypes.PipelineParam{Name: q.Name, Type: apitypes.ParamType(q.Type), Description: q.Description,
			Default: q.Default, Required: q.Required, RequiredWhen: q.RequiredWhen, Min: q.Min, Max: q.Max, Enum: q.Enum,
			Pattern: q.Pattern, KeyPattern: q.KeyPattern, MinItems: q.MinItems, Sensitive: q.Sensitive, Scope: apitypes.ParamScope(q.Scope)}
	}
	return v
}
