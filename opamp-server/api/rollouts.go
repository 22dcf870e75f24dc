package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/redact"
)

// rolloutRoutes are the progressive assignments' routes. Reading one needs
// what reading the fleet needs; halting one, what assigning needs.
func (a *API) rolloutRoutes() []route {
	return []route{
		{http.MethodGet, "/rollouts", auth.PermRead, a.listRollouts},
		{http.MethodGet, "/rollouts/{id}", auth.PermRead, a.getRollout},
		{http.MethodPost, "/rollouts/{id}/halt", auth.PermConfigure, a.haltRollout},
	}
}

// startRollout: POST /assignments with waves: 202 and the rollout, whose
// first wave is assigned.
func (a *API) startRollout(w http.ResponseWriter, r *http.Request, req apitypes.BulkAssignRequest) {
	if err := assignment.ValidateWaveOptions(req.WaveOptions); err != nil {
		a.assignError(w, err)
		return
	}
	if a.set.Rollouts == nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "waves: this server does not assign progressively", nil)
		return
	}
	req.AssignRequest = withReason(r, req.AssignRequest)
	ro, err := a.set.Rollouts.Start(r.Context(), req, a.grants(r), principal(r.Context()))
	if err != nil {
		a.assignError(w, err)
		return
	}
	w.Header().Set("Location", apitypes.Prefix+"/rollouts/"+ro.ID)
	ok(w, r, http.StatusAccepted, assignmentRolloutView(ro), "")
}

// listRollouts: GET /rollouts[?active=true][&limit=N], newest first.
func (a *API) listRollouts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	active, err := optionalBool(q.Get("active"))
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "active: want true or false", nil)
		return
	}
	limit := 0
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 0 {
			fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "limit: want a whole number of rollouts", nil)
			return
		}
	}
	list, err := a.set.Rollouts.List(r.Context(), active, limit)
	if err != nil {
		storeError(w, err, "rollout")
		return
	}
	for i := range list {
		list[i] = assignmentRolloutView(list[i])
	}
	ok(w, r, http.StatusOK, list, "")
}

func optionalBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	return strconv.ParseBool(s)
}

// getRollout: GET /rollouts/{id}
func (a *API) getRollout(w http.ResponseWriter, r *http.Request) {
	ro, err := a.set.Rollouts.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		storeError(w, err, "rollout")
		return
	}
	ok(w, r, http.StatusOK, assignmentRolloutView(ro), "")
}

// haltRollout: POST /rollouts/{id}/halt. The wave in progress gets its
// previous assignments back; earlier waves keep the new configuration.
func (a *API) haltRollout(w http.ResponseWriter, r *http.Request) {
	ro, err := a.set.Rollouts.Halt(r.Context(), r.PathValue("id"), principal(r.Context()))
	if errors.Is(err, assignment.ErrRollout) {
		fail(w, http.StatusConflict, apitypes.CodeConflict, err.Error(), nil)
		return
	}
	if err != nil {
		storeError(w, err, "rollout")
		return
	}
	ok(w, r, http.StatusOK, assignmentRolloutView(ro), "")
}

// assignmentRolloutView is a progressive assignment without the secrets its
// parameters and the assignments its waves replaced may hold: viewers read
// it, as they read an experiment's rollout (rolloutView).
func assignmentRolloutView(ro apitypes.AssignmentRollout) apitypes.AssignmentRollout {
	ro.Parameters = redact.Params(ro.Parameters)
	ro.Rollout = *rolloutView(&ro.Rollout)
	return ro
}
