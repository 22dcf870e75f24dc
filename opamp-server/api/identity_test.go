package api

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
)

// enrollAgent enrolls one agent with the enrollment token.
func (e *testEnv) enrollAgent(t *testing.T) apitypes.AgentCredential {
	t.Helper()
	r := e.do(t, http.MethodPost, "/api/v1/agents/enroll", apitypes.EnrollRequest{HostName: "web-1"}, bearer(enrollToken)...)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	c, _ := data[apitypes.AgentCredential](t, r)
	return c
}

func TestEnrollIssuesAFreshIdentity(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, withTokens(t))
	a, b := env.enrollAgent(t), env.enrollAgent(t)
	for _, c := range []apitypes.AgentCredential{a, b} {
		_, err := uuid.Parse(c.InstanceUID)
		require.NoError(t, err, "the instance UID is a UUID the supervisor can pin")
		assert.True(t, strings.HasPrefix(c.Token, auth.AgentTokenPrefix))
	}
	assert.NotEqual(t, a.InstanceUID, b.InstanceUID)
	assert.NotEqual(t, a.Token, b.Token)

	stored, err := env.store.GetAgentCredential(t.Context(), a.InstanceUID)
	require.NoError(t, err)
	assert.Equal(t, auth.Digest(a.Token), stored.TokenSHA256, "only the digest is stored")
	assert.Equal(t, "hosts", stored.EnrolledBy)

	r := env.do(t, http.MethodGet, "/api/v1/agents/self", nil, bearer(a.Token)...)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	self, _ := data[apitypes.AgentIdentity](t, r)
	assert.Equal(t, a.InstanceUID, self.InstanceUID)
}

func TestIdentityRoutesAreHeldToTheirRoles(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, withTokens(t))
	agent := env.enrollAgent(t)
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
	}{
		{"a viewer cannot enroll", http.MethodPost, "/agents/enroll", viewerToken, apitypes.EnrollRequest{}, http.StatusForbidden},
		{"an agent cannot enroll", http.MethodPost, "/agents/enroll", agent.Token, apitypes.EnrollRequest{}, http.StatusForbidden},
		{"the enrollment token is no agent", http.MethodGet, "/agents/self", enrollToken, nil, http.StatusForbidden},
		{"an admin is no agent", http.MethodPost, "/agents/self/credential", adminToken, nil, http.StatusForbidden},
		{"an agent cannot revoke", http.MethodDelete, "/agents/" + agent.InstanceUID + "/credential", agent.Token, nil, http.StatusForbidden},
		{"an operator cannot revoke", http.MethodDelete, "/agents/" + agent.InstanceUID + "/credential", operatorToken, nil, http.StatusForbidden},
		{"an agent reads nothing", http.MethodGet, "/agents/" + agent.InstanceUID, agent.Token, nil, http.StatusForbidden},
		{"a made-up agent token", http.MethodGet, "/agents/self", auth.AgentTokenPrefix + "0000", nil, http.StatusUnauthorized},
		{"an unknown field", http.MethodPost, "/agents/enroll", enrollToken, `{"instance_uid":"x"}`, http.StatusBadRequest},
		{"a long host name", http.MethodPost, "/agents/enroll", enrollToken,
			apitypes.EnrollRequest{HostName: strings.Repeat("h", 256)}, http.StatusBadRequest},
	} {
		r := env.do(t, tc.method, "/api/v1"+tc.path, tc.body, bearer(tc.token)...)
		assert.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
	}
}

func TestRotateKeepsThePreviousTokenForTheGrace(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t, withTokens(t), func(s *Settings) { s.RotationGrace = 10 * time.Minute })
	old := env.enrollAgent(t)
	before := time.Now()
	r := env.do(t, http.MethodPost, "/api/v1/agents/self/credential", nil, bearer(old.Token)...)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	rotated, _ := data[apitypes.AgentCredential](t, r)
	assert.Equal(t, old.InstanceUID, rotated.InstanceUID)
	assert.NotEqual(t, old.Token, rotated.Token)
	assert.WithinRange(t, rotated.PreviousValidUntil, before.Add(10*time.Minute-time.Second), time.Now().Add(10*time.Minute))

	for _, token := range []string{old.Token, rotated.Token} {
		r := env.do(t, http.MethodGet, "/api/v1/agents/self", nil, bearer(token)...)
		assert.Equal(t, http.StatusOK, r.status, "both work inside the grace")
	}
	_, err := env.store.AgentCredentialByDigest(t.Context(), auth.Digest(old.Token), time.Now().Add(11*time.Minute))
	assert.Error(t, err, "the previous token ends with the grace")
}

func TestRevokeEndsTheCredentialAndTheConnection(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var revoked []string
	env := newTestEnv(t, withTokens(t), func(s *Settings) {
		s.OnRevoke = func(uid string) { mu.Lock(); defer mu.Unlock(); revoked = append(revoked, uid) }
	})
	agent, other := env.enrollAgent(t), env.enrollAgent(t)
	r := env.do(t, http.MethodDelete, "/api/v1/agents/"+agent.InstanceUID+"/credential", nil, bearer(adminToken)...)
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.body)
	assert.Equal(t, []string{agent.InstanceUID}, revoked, "the OpAMP endpoint is told to close its connection")

	r = env.do(t, http.MethodGet, "/api/v1/agents/self", nil, bearer(agent.Token)...)
	assert.Equal(t, http.StatusUnauthorized, r.status)
	r = env.do(t, http.MethodGet, "/api/v1/agents/self", nil, bearer(other.Token)...)
	assert.Equal(t, http.StatusOK, r.status, "other agents keep theirs")
	r = env.do(t, http.MethodDelete, "/api/v1/agents/"+agent.InstanceUID+"/credential", nil, bearer(adminToken)...)
	assert.Equal(t, http.StatusNotFound, r.status)
}

func TestSelfWithoutAuthentication(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	r := env.do(t, http.MethodGet, "/api/v1/agents/self", nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Contains(t, string(r.body), "agent credential")
}
