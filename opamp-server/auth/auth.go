// Package auth authenticates bearer tokens and authorises what their roles
// allow. Tokens are stored and compared only as SHA-256 digests; a token
// value never reaches a log line or an API response.
package auth // import "github.com/phoenix/platform/opamp-server/auth"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Role names a set of permissions.
type Role string

// Roles. Humans get viewer, operator, experimenter or admin; a Prometheus
// server gets metrics; hosts get enroll, which exchanges it for their own
// agent credential (see Credentials). The agent role is never in a tokens
// file: it belongs to per-agent credentials only.
const (
	RoleViewer       Role = "viewer"
	RoleOperator     Role = "operator"
	RoleExperimenter Role = "experimenter"
	RoleAdmin        Role = "admin"
	RoleMetrics      Role = "metrics"
	RoleEnroll       Role = "enroll"
	RoleAgent        Role = "agent"
)

// Permission is one kind of action.
type Permission string

// Permissions checked by the server's routes.
const (
	// PermRead: read agents, pipelines, experiments and results.
	PermRead Permission = "read"
	// PermConfigure: assign configurations to agents, promote or roll back
	// experiments.
	PermConfigure Permission = "configure"
	// PermExperiment: create, start and stop experiments.
	PermExperiment Permission = "experiment"
	// PermAgent: speak OpAMP and send own telemetry, as the one agent the
	// credential was issued to.
	PermAgent Permission = "agent"
	// PermEnroll: exchange an enrollment token for a new agent identity.
	PermEnroll Permission = "enroll"
	// PermMetrics: scrape /metrics, when the server is told to require it.
	PermMetrics Permission = "metrics"
	// PermHostAccess: assign verbatim configurations that reach into the
	// agents' hosts beyond what the catalog's pipelines do: ${file:...},
	// ${http(s):...} or ${env:NAME} references the collector resolves on
	// each host, components that read or write the host's files
	// (docs/security.md). Checked by the assignment service, not a route.
	PermHostAccess Permission = "host-access"
	// PermAdminister: remove agents from the inventory, revoke agent
	// credentials.
	PermAdminister Permission = "administer"
)

var rolePermissions = map[Role][]Permission{
	RoleViewer:       {PermRead},
	RoleOperator:     {PermRead, PermConfigure},
	RoleExperimenter: {PermRead, PermExperiment},
	RoleAdmin:        {PermRead, PermConfigure, PermExperiment, PermHostAccess, PermAdminister, PermEnroll, PermMetrics},
	RoleMetrics:      {PermMetrics},
	RoleEnroll:       {PermEnroll},
	RoleAgent:        {PermAgent},
}

// Roles lists every role, in the order the docs show them.
func Roles() []Role {
	return []Role{RoleViewer, RoleOperator, RoleExperimenter, RoleAdmin, RoleMetrics, RoleEnroll, RoleAgent}
}

// Permissions lists every permission, in the order the docs show them.
func Permissions() []Permission {
	return []Permission{PermRead, PermConfigure, PermExperiment, PermHostAccess, PermAdminister,
		PermMetrics, PermEnroll, PermAgent}
}

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool {
	_, ok := rolePermissions[r]
	return ok
}

// Principal is an authenticated caller.
type Principal struct {
	Name  string
	Roles []Role
	// AgentUID is the instance UID an agent credential was issued to; empty
	// for every other caller.
	AgentUID string
}

// Can reports whether any of the principal's roles grants p.
func (pr Principal) Can(p Permission) bool {
	for _, r := range pr.Roles {
		if slices.Contains(rolePermissions[r], p) {
			return true
		}
	}
	return false
}

// Errors returned by Authenticate.
var (
	ErrNoToken      = errors.New("missing bearer token")
	ErrInvalidToken = errors.New("invalid bearer token")
	// ErrUnavailable: the credential could not be checked (the store did
	// not answer); the caller should answer 503, not 401.
	ErrUnavailable = errors.New("credentials cannot be checked now")
)

// AgentCredentials looks up a per-agent credential by its digest and returns
// the instance UID it was issued to; found is false for an unknown or
// revoked credential. The store implements it.
type AgentCredentials func(ctx context.Context, digest string) (uid string, found bool, err error)

// Authenticator maps token digests to principals: the tokens file's, and
// through AgentCredentials each agent's own. The zero value rejects
// everything; a nil *Authenticator means authentication is disabled.
type Authenticator struct {
	byDigest map[string]Principal
	agents   AgentCredentials
}

// WithAgentCredentials returns a copy of a that also accepts per-agent
// credentials (AgentTokenPrefix tokens) resolved by lookup.
func (a *Authenticator) WithAgentCredentials(lookup AgentCredentials) *Authenticator {
	if a == nil {
		return nil
	}
	c := *a
	c.agents = lookup
	return &c
}

// Digest returns the hex SHA-256 of a token, the form tokens are stored in.
func Digest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// New builds an authenticator from token entries.
func New(entries []TokenEntry) (*Authenticator, error) {
	a := &Authenticator{byDigest: make(map[string]Principal, len(entries))}
	for i, e := range entries {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("tokens[%d] (%s): %w", i, e.Name, err)
		}
		digest := strings.ToLower(e.TokenSHA256)
		if _, dup := a.byDigest[digest]; dup {
			return nil, fmt.Errorf("tokens[%d] (%s): the same token is listed twice", i, e.Name)
		}
		a.byDigest[digest] = Principal{Name: e.Name, Roles: slices.Clone(e.Roles)}
	}
	return a, nil
}

// Authenticate resolves the bearer token of a request.
func (a *Authenticator) Authenticate(r *http.Request) (Principal, error) {
	token, ok := BearerToken(r)
	if !ok {
		return Principal{}, ErrNoToken
	}
	digest := Digest(token)
	if p, found := a.byDigest[digest]; found {
		return p, nil
	}
	if a.agents == nil || !strings.HasPrefix(token, AgentTokenPrefix) {
		return Principal{}, ErrInvalidToken
	}
	uid, found, err := a.agents(r.Context(), digest)
	switch {
	case err != nil:
		return Principal{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	case !found:
		return Principal{}, ErrInvalidToken
	}
	return AgentPrincipal(uid), nil
}

// AgentPrincipal is the principal of the agent credential issued to uid.
func AgentPrincipal(uid string) Principal {
	return Principal{Name: "agent " + uid, Roles: []Role{RoleAgent}, AgentUID: uid}
}

// BearerToken extracts the token from an "Authorization: Bearer …" header.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
