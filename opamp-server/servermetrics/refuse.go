package servermetrics // import "github.com/phoenix/platform/opamp-server/servermetrics"

import "log/slog"

// Reasons an agent's credential is refused, the reason label of
// AgentAuthRefused. The security documentation (docs/security.md, "Agent
// identity") explains each.
const (
	// AuthNoToken: no bearer token.
	AuthNoToken = "no_token"
	// AuthInvalidToken: a token the server does not know, or one revoked,
	// rotated out or deleted with its agent.
	AuthInvalidToken = "invalid_token"
	// AuthNotAnAgent: a valid token that is not an agent credential (an
	// enrollment or a user token).
	AuthNotAnAgent = "not_an_agent"
	// AuthWrongAgent: an agent credential used for another instance UID.
	AuthWrongAgent = "wrong_agent"
	// AuthRevoked: the credential of a live connection was revoked.
	AuthRevoked = "revoked"
)

var authRefusalReasons = []string{AuthNoToken, AuthInvalidToken, AuthNotAnAgent, AuthWrongAgent, AuthRevoked}

// RefuseAgent counts a request or message refused because of the agent's
// credential, and logs a warning on log at most once per source, reason and
// agent per RejectLogInterval. agent is the instance UID the sender claimed,
// or its address.
func (m *Metrics) RefuseAgent(log *slog.Logger, source, reason, agent, detail string) {
	m.AgentAuthRefused.WithLabelValues(source, reason).Inc()
	if len(agent) > maxAgentName {
		agent = agent[:maxAgentName]
	}
	unlogged, ok := m.rejectLog.allow(rejectKey{source, "auth:" + reason, agent})
	if !ok || log == nil {
		return
	}
	log.Warn("agent credential refused", "source", source, "reason", reason, "agent", agent,
		"detail", detail, "unlogged_since_last", unlogged)
}
