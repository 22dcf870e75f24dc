package clitest

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/api"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/store"
)

// RolloutServer serves the API with progressive assignments to an
// operator, and plays a fleet: before each poll of a rollout (GET
// /rollouts/{id}) every agent with an assignment reports it APPLIED and
// healthy (or FAILED, when listed in Fail) and sends a minute of own
// telemetry, the clock moves a minute, and the rollouts step.
type RolloutServer struct {
	*Server
	Rollouts *assignment.Rollouts

	t   *testing.T
	mu  sync.Mutex
	now time.Time
	// Fail lists agents that fail to apply whatever they are given.
	Fail map[string]bool
}

// NewRolloutServer starts a RolloutServer at 2026-03-02 09:00 UTC with
// the given agents, labelled env=prod.
func NewRolloutServer(t *testing.T, uids ...string) *RolloutServer {
	t.Helper()
	e := &RolloutServer{t: t, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC), Fail: map[string]bool{}}
	extend := func(set *api.Settings) {
		e.Rollouts = assignment.NewRollouts(set.Assignments, e.clock)
		set.Rollouts = e.Rollouts
	}
	e.Server = newServer(t, auth.RoleOperator, extend, e.beforeRequest)
	for _, uid := range uids {
		require.NoError(t, e.Store.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": "prod"},
			Online: true, Health: &apitypes.Health{Healthy: true}}))
	}
	return e
}

func (e *RolloutServer) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *RolloutServer) beforeRequest(r *http.Request) {
	rest, found := strings.CutPrefix(r.URL.Path, apitypes.Prefix+"/rollouts/")
	if r.Method != http.MethodGet || !found || strings.Contains(rest, "/") {
		return
	}
	ctx := r.Context()
	agents, _, err := e.Store.ListAgents(ctx, store.AgentFilter{}, store.Page{Limit: store.MaxPageLimit})
	require.NoError(e.t, err)
	e.mu.Lock()
	now := e.now
	e.now = e.now.Add(time.Minute)
	e.mu.Unlock()
	for _, a := range agents {
		asg, err := e.Store.GetAssignment(ctx, a.InstanceUID)
		if err != nil {
			continue
		}
		a.RemoteConfig = apitypes.RemoteConfigStatus{Hash: asg.ConfigHash, Status: apitypes.ConfigStatusApplied}
		if e.Fail[a.InstanceUID] {
			a.RemoteConfig.Status, a.RemoteConfig.ErrorMessage = apitypes.ConfigStatusFailed, "bad config"
		}
		require.NoError(e.t, e.Store.UpsertAgent(ctx, a))
		require.NoError(e.t, e.Store.PutSamples(ctx, []apitypes.Sample{{InstanceUID: a.InstanceUID, Name: "phoenix_cost_bytes",
			Minute: now.Truncate(time.Minute), Value: 1}}))
	}
	e.Rollouts.StepAll(ctx)
}
