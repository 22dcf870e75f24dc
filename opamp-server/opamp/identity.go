package opamp // import "github.com/phoenix/platform/opamp-server/opamp"

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/open-telemetry/opamp-go/server/types"
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// Every agent speaks with a credential issued to its own instance UID
// (docs/security.md, "Agent identity"). A plain-HTTP poll is checked before
// it is accepted (its body names the UID), so a mismatch is a 403; a
// WebSocket names its UID only in messages, so each message is checked and
// a mismatch answered with an error and the connection closed. A
// WebSocket's credential is looked up again every CredentialRecheck, so a
// revocation on any replica ends the connection within that time.

// authenticate checks the connecting request's credential and returns the
// instance UID it was issued to ("" with auth disabled), or the refusal.
func (s *Server) authenticate(r *http.Request) (string, *types.ConnectionResponse) {
	if s.set.Auth == nil {
		return "", nil
	}
	p, err := s.set.Auth.Authenticate(r)
	switch {
	case errors.Is(err, auth.ErrUnavailable):
		s.set.Metrics.OpAMPErrors.WithLabelValues("store").Inc()
		s.log.Error("checking an agent credential failed", "error", err)
		return "", &types.ConnectionResponse{HTTPStatusCode: http.StatusServiceUnavailable}
	case err != nil:
		reason := servermetrics.AuthInvalidToken
		if errors.Is(err, auth.ErrNoToken) {
			reason = servermetrics.AuthNoToken
		}
		return "", s.refuse(r, reason, http.StatusUnauthorized, err.Error())
	case !p.Can(auth.PermAgent) || p.AgentUID == "":
		return "", s.refuse(r, servermetrics.AuthNotAnAgent, http.StatusForbidden,
			fmt.Sprintf("%s's token is not an agent credential: enroll the agent (phoenix agent enroll)", p.Name))
	}
	return p.AgentUID, nil
}

func (s *Server) refuse(r *http.Request, reason string, status int, detail string) *types.ConnectionResponse {
	s.set.Metrics.OpAMPErrors.WithLabelValues("auth").Inc()
	s.set.Metrics.RefuseAgent(s.log, servermetrics.SourceOpAMP, reason, remoteHost(r.RemoteAddr), detail)
	resp := &types.ConnectionResponse{HTTPStatusCode: status}
	if status == http.StatusUnauthorized {
		resp.HTTPResponseHeader = map[string]string{"WWW-Authenticate": `Bearer realm="phoenix"`}
	}
	return resp
}

// checkPollIdentity refuses a plain-HTTP poll whose message speaks for an
// agent other than the credential's; a body that does not decode is left
// to the protocol handler.
func (s *Server) checkPollIdentity(r *http.Request, bound string, body []byte) *types.ConnectionResponse {
	if bound == "" {
		return nil
	}
	var msg protobufs.AgentToServer
	if proto.Unmarshal(body, &msg) != nil {
		return nil
	}
	uid, err := instanceUID(msg.GetInstanceUid())
	if err != nil || uid == bound {
		return nil
	}
	s.set.Metrics.RefuseAgent(s.log, servermetrics.SourceOpAMP, servermetrics.AuthWrongAgent, uid,
		fmt.Sprintf("credential of agent %s used for agent %s from %s", bound, uid, remoteHost(r.RemoteAddr)))
	return &types.ConnectionResponse{HTTPStatusCode: http.StatusForbidden}
}

// checkMessageIdentity refuses a WebSocket message for an agent other than
// the credential's, and ends a connection whose credential was revoked.
// It reports whether the message may be handled; when not, it has answered
// and closed the connection.
func (c *connection) checkMessageIdentity(ctx context.Context, conn types.Connection, msg *protobufs.AgentToServer, uid string) bool {
	s := c.s
	if c.agentUID == "" {
		return true
	}
	reason, detail := "", ""
	switch now := s.set.Now(); {
	case uid != c.agentUID:
		reason = servermetrics.AuthWrongAgent
		detail = fmt.Sprintf("credential of agent %s used for agent %s", c.agentUID, uid)
	case now.Sub(c.checkedAt) >= s.set.CredentialRecheck:
		_, err := s.set.Store.AgentCredentialByDigest(ctx, auth.Digest(c.token), now)
		switch {
		case errors.Is(err, store.ErrNotFound):
			reason, detail = servermetrics.AuthRevoked, "the connection's credential was revoked"
		case err != nil:
			s.log.Warn("re-checking an agent credential failed; checking again with the next message", "agent", uid, "error", err)
		default:
			c.checkedAt = now
		}
	}
	if reason == "" {
		return true
	}
	s.set.Metrics.RefuseAgent(s.log, servermetrics.SourceOpAMP, reason, uid, detail)
	resp := errorResponse(msg, protobufs.ServerErrorResponseType_ServerErrorResponseType_BadRequest, "refused: "+detail)
	if err := conn.Send(ctx, resp); err != nil {
		s.set.Metrics.OpAMPErrors.WithLabelValues("send").Inc()
	}
	_ = conn.Disconnect()
	return false
}

// Disconnect closes uid's WebSocket connection to this replica, if any:
// after its credential is revoked, the agent's reconnection is refused.
func (s *Server) Disconnect(uid string) {
	s.mu.Lock()
	st, ok := s.agents[uid]
	s.mu.Unlock()
	if !ok {
		return
	}
	st.mu.Lock()
	conn := st.conn
	st.mu.Unlock()
	if conn != nil {
		_ = conn.Disconnect()
	}
}
