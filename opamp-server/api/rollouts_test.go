package api

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
)

func withRollouts(s *Settings) { s.Rollouts = assignment.NewRollouts(s.Assignments, nil) }

func rolloutEnv(t *testing.T, opts ...func(*Settings)) *testEnv {
	t.Helper()
	env := newTestEnv(t, append([]func(*Settings){withRollouts}, opts...)...)
	for _, uid := range []string{"a1", "a2", "a3", "a4"} {
		putAgent(t, env.store, apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": "prod"}})
	}
	return env
}

func TestAssignWithWavesStartsARollout(t *testing.T) {
	t.Parallel()
	env := rolloutEnv(t)
	r := env.do(t, http.MethodPost, apitypes.Prefix+"/assignments",
		`{"selector":"env=prod","pipeline":"topk-rollup","waves":[25,50,100],"gate_timeout":"2m"}`)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	ro, _ := data[apitypes.AssignmentRollout](t, r)
	assert.Equal(t, apitypes.Prefix+"/rollouts/"+ro.ID, r.header.Get("Location"))
	assert.Equal(t, apitypes.RolloutRolling, ro.State)
	assert.Equal(t, apitypes.Duration(120e9), ro.GateTimeout)
	require.Len(t, ro.Waves, 3)
	assert.Equal(t, apitypes.WaveRolling, ro.Waves[0].State)
	assert.Equal(t, "assigned by anonymous", ro.AssignmentReason)
	assert.Equal(t, []string{"a1"}, env.pusher.calls(), "only the first wave is assigned")

	got, _ := data[apitypes.AssignmentRollout](t, env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts/"+ro.ID, nil))
	assert.Equal(t, ro.ID, got.ID)
	assert.Equal(t, "a1", got.Waves[0].Agents[0].InstanceUID)
	list, _ := data[[]apitypes.AssignmentRollout](t, env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts?active=true", nil))
	require.Len(t, list, 1)
	apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts/nope", nil), http.StatusNotFound, apitypes.CodeNotFound)

	halted, _ := data[apitypes.AssignmentRollout](t, env.do(t, http.MethodPost, apitypes.Prefix+"/rollouts/"+ro.ID+"/halt", nil))
	assert.Equal(t, apitypes.RolloutHalted, halted.State)
	_, err := env.store.GetAssignment(t.Context(), "a1")
	require.Error(t, err, "a1 had no assignment before: the halt removed it")
	apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/rollouts/"+ro.ID+"/halt", nil), http.StatusConflict, apitypes.CodeConflict)
	list, _ = data[[]apitypes.AssignmentRollout](t, env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts?active=true", nil))
	assert.Empty(t, list)
}

func TestAssignWithWavesRefusesBadOptions(t *testing.T) {
	t.Parallel()
	env := rolloutEnv(t)
	for name, tt := range map[string]struct {
		body, msg string
	}{
		"not increasing":    {`"waves":[50,10,100]`, "waves: 10 after 50"},
		"repeated":          {`"waves":[50,50,100]`, "waves: 50 after 50"},
		"not ending at 100": {`"waves":[10,50]`, "waves: the last wave is 50: it must be 100"},
		"zero":              {`"waves":[0,100]`, "waves: 0: each wave"},
		"above 100":         {`"waves":[50,150]`, "waves: 150: each wave"},
		"too many":          {`"waves":[1,2,3,4,5,6,7,8,9,10,100]`, "waves: at most 10, got 11"},
		"not numbers":       {`"waves":"1,10,100"`, "waves"},
		"timeout short":     {`"waves":[100],"gate_timeout":"10s"`, "gate_timeout: must be between 30s and 1h0m0s, got 10s"},
		"timeout long":      {`"waves":[100],"gate_timeout":"2h"`, "gate_timeout: must be between 30s and 1h0m0s, got 2h0m0s"},
		"timeout negative":  {`"waves":[100],"gate_timeout":"-1m"`, "gate_timeout: must be between"},
		"timeout garbage":   {`"waves":[100],"gate_timeout":"soon"`, "gate_timeout"},
		"timeout alone":     {`"gate_timeout":"1m"`, "gate_timeout: only with waves"},
	} {
		e := apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/assignments",
			`{"selector":"env=prod","pipeline":"topk-rollup",`+tt.body+`}`), http.StatusBadRequest, apitypes.CodeBadRequest)
		assert.Contains(t, e.Message, tt.msg, name)
	}
	assert.Empty(t, env.pusher.calls(), "nothing was assigned")
	list, _ := data[[]apitypes.AssignmentRollout](t, env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts", nil))
	assert.Empty(t, list, "nothing was stored")
	apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts?active=maybe", nil), http.StatusBadRequest, apitypes.CodeBadRequest)
	apiError(t, env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts?limit=-1", nil), http.StatusBadRequest, apitypes.CodeBadRequest)
	// The selector and the configuration are checked as without waves.
	apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/assignments", `{"selector":"env=dev","pipeline":"topk-rollup","waves":[100]}`),
		http.StatusNotFound, apitypes.CodeNotFound)
}

func TestRolloutRoutesNeedTheAssignRoles(t *testing.T) {
	t.Parallel()
	env := rolloutEnv(t, withTokens(t))
	body := `{"selector":"env=prod","pipeline":"topk-rollup","waves":[50,100]}`
	apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/assignments", body, bearer(viewerToken)...), http.StatusForbidden, apitypes.CodeForbidden)
	r := env.do(t, http.MethodPost, apitypes.Prefix+"/assignments", body, bearer(operatorToken)...)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	ro, _ := data[apitypes.AssignmentRollout](t, r)
	assert.Equal(t, "otto", ro.CreatedBy)
	data[apitypes.AssignmentRollout](t, env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts/"+ro.ID, nil, bearer(viewerToken)...))
	apiError(t, env.do(t, http.MethodPost, apitypes.Prefix+"/rollouts/"+ro.ID+"/halt", nil, bearer(viewerToken)...), http.StatusForbidden, apitypes.CodeForbidden)
}

// TestRolloutViewsHideSecrets: a rollout shows its parameters and the
// assignments its wave replaced to viewers, without their secrets.
func TestRolloutViewsHideSecrets(t *testing.T) {
	t.Parallel()
	env := rolloutEnv(t, withTokens(t))
	_, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "a1", Config: "exporters:\n  otlp_http:\n    headers:\n      x-api-key: old-k3y\n"})
	require.NoError(t, err)
	body := `{"selector":"env=prod","pipeline":"topk-rollup","waves":[25,100],` +
		`"parameters":{"otlp_headers":{"x-api-key":"new-k3y","x-team":"core"}}}`
	r := env.do(t, http.MethodPost, apitypes.Prefix+"/assignments", body, bearer(operatorToken)...)
	require.Equal(t, http.StatusAccepted, r.status, "%s", r.body)
	ro, _ := data[apitypes.AssignmentRollout](t, r)
	for _, r := range []response{r,
		env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts/"+ro.ID, nil, bearer(viewerToken)...),
		env.do(t, http.MethodGet, apitypes.Prefix+"/rollouts", nil, bearer(viewerToken)...)} {
		require.Less(t, r.status, 300, "%s", r.body)
		for _, secret := range []string{"old-k3y", "new-k3y"} {
			assert.NotContains(t, string(r.body), secret)
		}
		assert.Contains(t, string(r.body), "core", "what is not a secret is shown")
	}
}
