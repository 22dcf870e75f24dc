package api

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// A summary counts agents by state across pages, honours the selector and
// the online filter, and reads neither configuration text nor parameters.
func TestAgentSummaryCountsByState(t *testing.T) {
	env, reads := headsEnv(t)
	uid := func(i int) string { return "0191f1c2-0000-7000-8000-" + strconv.FormatInt(0xb00000000000+int64(i), 16) }
	// 1,500 applied agents span two of the summary's store pages.
	for i := range 1500 {
		applied(t, env, uid(i))
	}
	assigned := func(i int, pipeline string) apitypes.Assignment {
		asg, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: uid(i), Pipeline: pipeline, Config: validConfig})
		require.NoError(t, err)
		return asg
	}
	assigned(2000, "topk") // pending: not received yet
	putAgent(t, env.store, apitypes.Agent{InstanceUID: uid(2000), Online: true, Labels: map[string]string{"env": "prod"},
		Health: &apitypes.Health{Healthy: true}})
	applying := assigned(2001, "topk")
	putAgent(t, env.store, apitypes.Agent{InstanceUID: uid(2001), Online: true, Labels: map[string]string{"env": "prod"},
		Health:       &apitypes.Health{Healthy: false},
		RemoteConfig: apitypes.RemoteConfigStatus{Hash: applying.ConfigHash, Status: apitypes.ConfigStatusApplying}})
	failed := assigned(2002, "topk")
	putAgent(t, env.store, apitypes.Agent{InstanceUID: uid(2002), Labels: map[string]string{"env": "prod"},
		RemoteConfig: apitypes.RemoteConfigStatus{Hash: failed.ConfigHash, Status: apitypes.ConfigStatusFailed}})
	retrying := assigned(2003, "")
	putAgent(t, env.store, apitypes.Agent{InstanceUID: uid(2003), Labels: map[string]string{"env": "staging"},
		RemoteConfig: apitypes.RemoteConfigStatus{Hash: retrying.ConfigHash, Status: apitypes.ConfigStatusFailed},
		ApplyRetry:   &apitypes.ApplyRetry{Hash: retrying.ConfigHash, Attempts: 1, Limit: 3, NextAt: time.Now().Add(time.Minute)}})
	putAgent(t, env.store, apitypes.Agent{InstanceUID: uid(2004), Labels: map[string]string{"env": "staging"}})

	sum, _ := data[apitypes.AgentSummary](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/summary", nil))
	assert.Equal(t, apitypes.AgentSummary{Total: 1505, Online: 2, Healthy: 1, Unhealthy: 1,
		Progress: map[apitypes.DriftState]int{apitypes.DriftApplied: 1500, apitypes.DriftPending: 1, apitypes.DriftApplying: 1,
			apitypes.DriftFailed: 1, apitypes.DriftRetrying: 1, apitypes.DriftUnassigned: 1},
		Pipelines: map[string]int{"": 1501, "topk": 3}}, sum)
	full, heads := reads.counts()
	assert.Zero(t, full, "no assignment's text is read")
	assert.Zero(t, heads, "nor its parameters")
	assert.Equal(t, 2, reads.briefCount(), "one read of briefs per page of 1,000")

	sum, _ = data[apitypes.AgentSummary](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/summary?selector=env%3Dprod&online=true", nil))
	assert.Equal(t, apitypes.AgentSummary{Total: 2, Online: 2, Healthy: 1, Unhealthy: 1,
		Progress:  map[apitypes.DriftState]int{apitypes.DriftPending: 1, apitypes.DriftApplying: 1},
		Pipelines: map[string]int{"topk": 2}}, sum)

	sum, _ = data[apitypes.AgentSummary](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents/summary?selector=env%3Dnone", nil))
	assert.Equal(t, 0, sum.Total)
	assert.Empty(t, sum.Progress)
}

func TestAgentSummaryRefusesBadFilters(t *testing.T) {
	env := newTestEnv(t)
	for target, want := range map[string]string{
		"/agents/summary?online=maybe":    "online: want true or false",
		"/agents/summary?selector=%3Dbad": "selector",
	} {
		e := apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+target, nil), http.StatusBadRequest, apitypes.CodeBadRequest)
		assert.Contains(t, e.Message, want, target)
	}
}
