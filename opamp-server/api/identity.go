package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/store"
)

// DefaultRotationGrace is how long an agent's previous token keeps working
// after a rotation: the time to restart its supervisor with the new one.
const DefaultRotationGrace = time.Hour

// maxHostName bounds the host name an enrolling host gives.
const maxHostName = 255

// identityRoutes are the agent-identity routes (docs/security.md, "Agent
// identity"): enroll with an enrollment token, inspect and rotate one's
// own credential with it, revoke as an administrator.
func (a *API) identityRoutes() []route {
	return []route{
		{http.MethodPost, "/agents/enroll", auth.PermEnroll, a.enroll},
		{http.MethodGet, "/agents/self", auth.PermAgent, a.self},
		{http.MethodPost, "/agents/self/credential", auth.PermAgent, a.rotateCredential},
		{http.MethodDelete, "/agents/{uid}/credential", auth.PermAdminister, a.revokeCredential},
	}
}

// enroll: POST /agents/enroll creates an agent identity. The server picks
// the instance UID, so an enrollment token can never take over an agent.
func (a *API) enroll(w http.ResponseWriter, r *http.Request) {
	var req apitypes.EnrollRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if len(req.HostName) > maxHostName {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "host_name: longer than 255 bytes", nil)
		return
	}
	id, err := uuid.NewV7()
	if err != nil {
		fail(w, http.StatusInternalServerError, apitypes.CodeInternal, "generating an instance UID failed", nil)
		return
	}
	token, err := auth.NewAgentToken()
	if err != nil {
		fail(w, http.StatusInternalServerError, apitypes.CodeInternal, "generating a token failed", nil)
		return
	}
	c := store.AgentCredential{InstanceUID: id.String(), TokenSHA256: auth.Digest(token),
		EnrolledBy: principal(r.Context()), EnrolledAt: time.Now()}
	if err := a.set.Store.CreateAgentCredential(r.Context(), c); err != nil {
		storeError(w, err, "agent credential")
		return
	}
	a.set.Logger.Info("agent enrolled", "agent", c.InstanceUID, "host", req.HostName, "by", c.EnrolledBy)
	ok(w, r, http.StatusCreated, apitypes.AgentCredential{InstanceUID: c.InstanceUID, Token: token}, "")
}

// agentUID is the instance UID of the calling agent credential; without
// one (a server running without authentication) it answers 400.
func agentUID(w http.ResponseWriter, r *http.Request) (string, bool) {
	p, found := r.Context().Value(keyPrincipal).(auth.Principal)
	if !found || p.AgentUID == "" {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest,
			"this route answers for an agent credential, and this request carries none", nil)
		return "", false
	}
	return p.AgentUID, true
}

// self: GET /agents/self names the agent the credential speaks for.
func (a *API) self(w http.ResponseWriter, r *http.Request) {
	uid, found := agentUID(w, r)
	if !found {
		return
	}
	c, err := a.set.Store.GetAgentCredential(r.Context(), uid)
	if err != nil {
		storeError(w, err, "agent credential")
		return
	}
	ok(w, r, http.StatusOK, apitypes.AgentIdentity{InstanceUID: uid, EnrolledAt: c.EnrolledAt, RotatedAt: c.RotatedAt}, "")
}

// rotateCredential: POST /agents/self/credential issues the calling agent
// a new token; the one it replaces works until the grace ends.
func (a *API) rotateCredential(w http.ResponseWriter, r *http.Request) {
	uid, found := agentUID(w, r)
	if !found {
		return
	}
	token, err := auth.NewAgentToken()
	if err != nil {
		fail(w, http.StatusInternalServerError, apitypes.CodeInternal, "generating a token failed", nil)
		return
	}
	now := time.Now()
	c, err := a.set.Store.RotateAgentCredential(r.Context(), uid, auth.Digest(token), now.Add(a.rotationGrace()), now)
	if err != nil {
		storeError(w, err, "agent credential")
		return
	}
	a.set.Logger.Info("agent credential rotated", "agent", uid, "previous_valid_until", c.PreviousValidUntil)
	ok(w, r, http.StatusOK, apitypes.AgentCredential{InstanceUID: uid, Token: token, PreviousValidUntil: c.PreviousValidUntil}, "")
}

// revokeCredential: DELETE /agents/{uid}/credential ends an agent's
// credential and its live connection; it must enroll again.
func (a *API) revokeCredential(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if err := a.set.Store.DeleteAgentCredential(r.Context(), uid); err != nil {
		storeError(w, err, "agent credential")
		return
	}
	if a.set.OnRevoke != nil {
		a.set.OnRevoke(uid)
	}
	a.set.Logger.Info("agent credential revoked", "agent", uid, "by", principal(r.Context()))
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotationGrace() time.Duration {
	if a.set.RotationGrace > 0 {
		return a.set.RotationGrace
	}
	return DefaultRotationGrace
}
