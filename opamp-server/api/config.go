package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"errors"
	"net/http"
	"strings"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
	"github.com/phoenix/platform/pipelines/distribution/hostaccess"
)

func renderedView(r catalog.Rendered) apitypes.Rendered {
	return apitypes.Rendered{Pipeline: r.Pipeline, Version: r.Version, Params: r.Params, Config: string(r.Config), Hash: r.Hash}
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

// assignAgent: PUT /agents/{uid}/config
func (a *API) assignAgent(w http.ResponseWriter, r *http.Request) {
	var req apitypes.AssignRequest
	if !decodeBody(w, r, &req) {
		return
	}
	stored, err := a.set.Assignments.Assign(r.Context(), r.PathValue("uid"), withReason(r, req), a.grants(r))
	if err != nil {
		a.assignError(w, err)
		return
	}
	ok(w, r, http.StatusOK, assignmentView(stored, true), "")
}

// grants are what the caller may assign beyond catalog pipelines and
// verbatim configurations without host access: a verbatim configuration
// with host access needs auth.PermHostAccess (admins), as does everything
// when authentication is off.
func (a *API) grants(r *http.Request) assignment.Grants {
	return assignment.Grants{HostAccess: a.can(r, auth.PermHostAccess)}
}

// can reports whether the caller has a permission its route did not
// require. Without authentication every caller may do everything.
func (a *API) can(r *http.Request, p auth.Permission) bool {
	if a.set.Auth == nil {
		return true
	}
	pr, ok := r.Context().Value(keyPrincipal).(auth.Principal)
	return ok && pr.Can(p)
}

// withReason records who assigned, when the request does not say why.
func withReason(r *http.Request, req apitypes.AssignRequest) apitypes.AssignRequest {
	if req.Reason == "" {
		req.Reason = "assigned by " + principal(r.Context())
	}
	return req
}

// unassignAgent: DELETE /agents/{uid}/config
func (a *API) unassignAgent(w http.ResponseWriter, r *http.Request) {
	if err := a.set.Assignments.Unassign(r.Context(), r.PathValue("uid")); err != nil {
		storeError(w, err, "assignment")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// assignMany: POST /assignments. Every matching agent's configuration is
// rendered and validated before any is stored: all or nothing. With waves
// it is assigned progressively (startRollout).
func (a *API) assignMany(w http.ResponseWriter, r *http.Request) {
	var req apitypes.BulkAssignRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.Waves) > 0 || req.GateTimeout != 0 {
		a.startRollout(w, r, req)
		return
	}
	results, err := a.set.Assignments.AssignMatching(r.Context(), req.Selector, withReason(r, req.AssignRequest), a.grants(r))
	if err != nil {
		a.assignError(w, err)
		return
	}
	ok(w, r, http.StatusOK, results, "")
}

// assignError reports a refused assignment.
func (a *API) assignError(w http.ResponseWriter, err error) {
	if denied, ok := assignment.AsHostAccess(err); ok {
		fail(w, http.StatusForbidden, apitypes.CodeForbidden, denied.Error(),
			append(hostAccessProblems(denied.Accesses), envParamProblems(denied.Params)...))
		return
	}
	switch {
	case errors.Is(err, assignment.ErrRequest):
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, strings.TrimPrefix(err.Error(), assignment.ErrRequest.Error()+": "), nil)
	case errors.Is(err, assignment.ErrNoMatch):
		fail(w, http.StatusNotFound, apitypes.CodeNotFound, err.Error(), nil)
	case assignment.IsRenderFailure(err):
		a.renderError(w, err)
	case errors.Is(err, store.ErrNotFound):
		storeError(w, err, "agent")
	default:
		storeError(w, err, "assignment")
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
	rendered, err := a.set.Assignments.Preview(r.Context(), r.PathValue("name"), req.Parameters)
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
	checked, err := a.set.Assignments.Validate(r.Context(), req.Config)
	if err != nil {
		a.renderError(w, err)
		return
	}
	ok(w, r, http.StatusOK, apitypes.Validated{Valid: true, ConfigHash: checked.Hash,
		HostAccess: hostAccessProblems(checked.HostAccess), RequiresAdmin: len(checked.HostAccess) > 0}, "")
}

// hostAccessProblems are what a configuration reaches on its hosts, as the
// API shows them.
func hostAccessProblems(accesses []hostaccess.Access) []apitypes.Problem {
	if len(accesses) == 0 {
		return nil
	}
	out := make([]apitypes.Problem, len(accesses))
	for i, acc := range accesses {
		out[i] = apitypes.Problem{Path: acc.Path, Message: assignment.AccessMessage(acc)}
	}
	return out
}

// envParamProblems are parameters naming environment variables the caller
// may not name, as the API shows them.
func envParamProblems(uses []catalog.EnvUse) []apitypes.Problem {
	out := make([]apitypes.Problem, len(uses))
	for i, u := range uses {
		out[i] = apitypes.Problem{Param: u.Param, Message: assignment.EnvUseMessage(u)}
	}
	return out
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
			Pattern: q.Pattern, KeyPattern: q.KeyPattern, MinItems: q.MinItems, Sensitive: q.Sensitive, AgentSettable: q.AgentSettable,
			EnvVar: q.EnvVar, Scope: apitypes.ParamScope(q.Scope)}
	}
	return v
}
