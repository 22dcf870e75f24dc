package api

import (
	"net/http"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/store"
)

// summaryPage is how many agents the summary reads from the store at a
// time: a page's records and heads are all it holds.
const summaryPage = 1000

// agentSummary: GET /agents/summary?selector=&online= counts the matching
// agents by state. It reads records and assignment heads only, never a
// configuration's text, so following a fleet-wide assignment by it costs a
// fraction of listing the fleet.
func (a *API) agentSummary(w http.ResponseWriter, r *http.Request) {
	sel, filter, err := agentQuery(r.URL.Query())
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
		return
	}
	sum := apitypes.AgentSummary{Progress: map[apitypes.DriftState]int{}, Pipelines: map[string]int{}}
	page := store.Page{Limit: summaryPage}
	for {
		agents, heads, next, err := a.agentPage(r, sel, filter, page, true)
		if err != nil {
			storeError(w, err, "agents")
			return
		}
		for _, ag := range agents {
			var asg *apitypes.Assignment
			if head, ok := heads[ag.InstanceUID]; ok {
				asg = &head
				sum.Pipelines[head.Pipeline]++
			}
			count(&sum, ag, asg)
		}
		if next == "" {
			break
		}
		page.After = next
	}
	ok(w, r, http.StatusOK, sum, "")
}

// count adds one agent to a summary.
func count(sum *apitypes.AgentSummary, ag apitypes.Agent, asg *apitypes.Assignment) {
	sum.Total++
	if ag.Online {
		sum.Online++
	}
	if ag.Health != nil {
		if ag.Health.Healthy {
			sum.Healthy++
		} else {
			sum.Unhealthy++
		}
	}
	sum.Progress[assignment.Progress(ag, asg).State]++
}
