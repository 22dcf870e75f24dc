package apitypes

import "time"

// EnrollRequest asks for a new agent identity (POST /agents/enroll, with an
// enrollment token). The server chooses the instance UID: an enrollment
// token can never claim an existing agent.
type EnrollRequest struct {
	// HostName names the host enrolling, for the server's log; the
	// inventory takes the agent's description from the agent itself.
	HostName string `json:"host_name,omitempty"`
}

// AgentCredential is a new agent credential: the instance UID it speaks
// for and its token, shown once and never stored by the server.
type AgentCredential struct {
	InstanceUID string `json:"instance_uid"`
	// Token goes in the supervisor's Authorization header and, as
	// AgentTokenEnv, the collector's environment.
	Token string `json:"token"`
	// PreviousValidUntil is, after a rotation, when the token it replaced
	// stops working: restart the supervisor with the new one before then.
	PreviousValidUntil time.Time `json:"previous_valid_until,omitzero"`
}

// AgentIdentity is the agent a credential speaks for (GET /agents/self).
type AgentIdentity struct {
	InstanceUID string    `json:"instance_uid"`
	EnrolledAt  time.Time `json:"enrolled_at"`
	RotatedAt   time.Time `json:"rotated_at,omitzero"`
}

// Files `phoenix agent enroll` writes to an agent's identity directory, one
// value each, for supervisor configurations to read with ${file:DIR/NAME}:
// the instance UID (agent::instance_id) and the token (server::headers and
// the collector's AgentTokenEnv).
const (
	AgentInstanceIDFile = "instance_id"
	AgentTokenFile      = "token"
)
