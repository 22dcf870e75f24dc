package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/redact"
	"github.com/phoenix/platform/opamp-server/selector"
	"github.com/phoenix/platform/opamp-server/store"
)

// view is an agent as the API shows it, with its assignment (nil: none);
// withConfig adds both configurations' text. A listed agent's assignment
// is a head, without its text.
func (a *API) view(r *http.Request, ag apitypes.Agent, asg *apitypes.Assignment, withConfig bool) (apitypes.AgentView, error) {
	v := apitypes.AgentView{Agent: ag}
	v.EffectiveConfig = ""
	if withConfig {
		v.EffectiveConfig = redact.Config(ag.EffectiveConfig)
	}
	if asg == nil {
		v.Drift = assignment.Drift(ag, nil)
		return v, nil
	}
	// Both texts are read only when the drift comparison is not
	// remembered for their hashes.
	loadEffective := func() (string, error) {
		if withConfig {
			return ag.EffectiveConfig, nil
		}
		full, err := a.set.Store.GetAgent(r.Context(), ag.InstanceUID)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil // deleted since it was listed
		}
		return full.EffectiveConfig, err
	}
	var changed *apitypes.Assignment // read in place of a head gone stale
	loadAssigned := func() (string, error) {
		full, err := a.set.Store.GetAssignment(r.Context(), ag.InstanceUID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return "", errAssignmentChanged
		case err != nil:
			return "", err
		case full.ConfigHash != asg.ConfigHash:
			changed = &full
			return "", errAssignmentChanged
		}
		return full.Config, nil
	}
	var err error
	v.Drift, err = assignment.DriftOfHead(ag, asg, loadEffective, loadAssigned)
	if errors.Is(err, errAssignmentChanged) {
		// Reassigned or unassigned since the list was read: the text
		// that was read belongs to another hash, so show what is now.
		return a.view(r, ag, changed, withConfig)
	}
	if err != nil {
		return v, err
	}
	v.Assignment = assignmentView(*asg, withConfig)
	return v, nil
}

// errAssignmentChanged: an agent's assignment changed between reading its
// head and its text.
var errAssignmentChanged = errors.New("assignment changed since it was read")

func assignmentView(asg apitypes.Assignment, withConfig bool) *apitypes.Assignment {
	av := &apitypes.Assignment{Pipeline: asg.Pipeline, Parameters: redact.Params(asg.Parameters), ConfigHash: asg.ConfigHash,
		Reason: asg.Reason, AssignedAt: asg.AssignedAt, Generation: asg.Generation}
	if withConfig {
		av.Config = redact.Config(asg.Config)
	}
	return av
}

// agentQuery reads an agent listing's selector and online filter.
func agentQuery(q url.Values) (selector.Selector, store.AgentFilter, error) {
	sel, err := selector.Parse(q["selector"]...)
	if err != nil {
		return sel, store.AgentFilter{}, err
	}
	filter := store.AgentFilter{Labels: sel.Equalities()}
	if s := q.Get("online"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return sel, filter, errors.New("online: want true or false")
		}
		filter.Online = &b
	}
	return sel, filter, nil
}

// agentPage reads one page of the agents sel and filter match, with their
// assignments' heads: the texts are about 10 KiB each, and neither a list
// nor a summary shows them. A summary, which shows no parameters either,
// asks for briefs.
func (a *API) agentPage(r *http.Request, sel selector.Selector, filter store.AgentFilter, page store.Page, briefs bool) (
	[]apitypes.Agent, map[string]apitypes.Assignment, string, error,
) {
	agents, next, err := a.set.Store.ListAgents(r.Context(), filter, page)
	if err != nil {
		return nil, nil, "", err
	}
	agents = slices.DeleteFunc(agents, func(ag apitypes.Agent) bool { return !sel.Matches(ag.Labels) })
	uids := make([]string, len(agents))
	for i, ag := range agents {
		uids[i] = ag.InstanceUID
	}
	read := a.set.Store.GetAssignmentHeads
	if briefs {
		read = a.set.Store.GetAssignmentBriefs
	}
	heads, err := read(r.Context(), uids)
	return agents, heads, next, err
}

// listAgents: GET /agents?selector=env=prod,host=~web-.*&online=true&limit=&cursor=
func (a *API) listAgents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sel, filter, err := agentQuery(q)
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
		return
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "limit: want an integer between 1 and 1000", nil)
			return
		}
	}
	agents, asgs, next, err := a.agentPage(r, sel, filter, store.Page{After: q.Get("cursor"), Limit: limit}, false)
	if err != nil {
		storeError(w, err, "agents")
		return
	}
	views := make([]apitypes.AgentView, 0, len(agents))
	for _, ag := range agents {
		var asg *apitypes.Assignment
		if one, ok := asgs[ag.InstanceUID]; ok {
			asg = &one
		}
		v, err := a.view(r, ag, asg, false)
		if err != nil {
			storeError(w, err, "assignment")
			return
		}
		views = append(views, v)
	}
	ok(w, r, http.StatusOK, views, next)
}

// getAgent: GET /agents/{uid}
func (a *API) getAgent(w http.ResponseWriter, r *http.Request) {
	ag, err := a.set.Store.GetAgent(r.Context(), r.PathValue("uid"))
	if err != nil {
		storeError(w, err, "agent")
		return
	}
	var asg *apitypes.Assignment
	switch one, err := a.set.Store.GetAssignment(r.Context(), ag.InstanceUID); {
	case err == nil:
		asg = &one
	case !errors.Is(err, store.ErrNotFound):
		storeError(w, err, "assignment")
		return
	}
	v, err := a.view(r, ag, asg, true)
	if err != nil {
		storeError(w, err, "agent")
		return
	}
	ok(w, r, http.StatusOK, v, "")
}

// agentMetrics: GET /agents/{uid}/metrics?name=&variant=&from=&to=
func (a *API) agentMetrics(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if _, err := a.set.Store.GetAgent(r.Context(), uid); err != nil {
		storeError(w, err, "agent")
		return
	}
	q := r.URL.Query()
	sq := store.SampleQuery{InstanceUID: uid, Name: q.Get("name"), Variant: q.Get("variant")}
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"from", &sq.From}, {"to", &sq.To}} {
		if s := q.Get(p.key); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, p.key+": want an RFC 3339 time", nil)
				return
			}
			*p.dst = t
		}
	}
	samples, err := a.set.Store.QuerySamples(r.Context(), sq)
	if err != nil {
		storeError(w, err, "samples")
		return
	}
	ok(w, r, http.StatusOK, finiteSamples(a, uid, samples), "")
}

// finiteSamples leaves out samples whose value is NaN or infinite. Neither
// is stored any more, but one stored before would make the response fail
// to encode after its status was written: an empty 200.
func finiteSamples(a *API, uid string, samples []apitypes.Sample) []apitypes.Sample {
	nonFinite := func(s apitypes.Sample) bool { return math.IsNaN(s.Value) || math.IsInf(s.Value, 0) }
	if !slices.ContainsFunc(samples, nonFinite) {
		return samples
	}
	out := slices.DeleteFunc(slices.Clone(samples), nonFinite)
	a.set.Logger.Warn("left non-finite samples out of a response", "agent", uid, "samples", len(samples)-len(out))
	return out
}

// deleteAgent: DELETE /agents/{uid}
func (a *API) deleteAgent(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if err := a.set.Store.DeleteAgent(r.Context(), uid); err != nil {
		storeError(w, err, "agent")
		return
	}
	if a.set.OnRevoke != nil {
		a.set.OnRevoke(uid) // its credential went with it
	}
	a.set.Logger.Info("agent removed from the inventory", "agent", uid, "by", principal(r.Context()))
	w.WriteHeader(http.StatusNoContent)
}
