// Package auth authenticates bearer tokens and authorises what their roles
// allow. Tokens are stored and compared only as SHA-256 digests; a token
// value never reaches a log line or an API response.
package auth // import "github.com/phoenix/platform/opamp-server/auth"

import (
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

// Roles. Humans get viewer, operator, experimenter or admin; collectors'
// supervisors get agent.
const (
	RoleViewer       Role = "viewer"
	RoleOperator     Role = "operator"
	RoleExperimenter Role = "experimenter"
	RoleAdmin        Role = "admin"
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
	// PermAgent: speak OpAMP and send own telemetry.
	PermAgent Permission = "agent"
	// PermHostAccess: assign verbatim configurations that reach into the
	// agents' hosts beyond what the catalog's pipelines do: ${file:...},
	// ${http(s):...} or ${env:NAME} references the collector resolves on
	// each host, components that read or write the host's files
	// (docs/security.md). Checked by the assignment service, not a route.
	PermHostAccess Permission = "host-access"
	// PermAdminister: remove agents from the inventory.
	PermAdminister Permission = "administer"
)

var rolePermissions = map[Role][]Permission{
	RoleViewer:       {PermRead},
	RoleOperator:     {PermRead, PermConfigure},
	RoleExperimenter: {PermRead, PermExperiment},
	RoleAdmin:        {PermRead, PermConfigure, PermExperiment, PermHostAccess, PermAdminister},
	RoleAgent:        {PermAgent},
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
)

// Authenticator maps token digests to principals. The zero value rejects
// everything; a nil *Authenticator means authentication is disabled.
type Authenticator struct {
	byDigest map[string]Principal
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
	p, found := a.byDigest[Digest(token)]
	if !found {
		return Principal{}, ErrInvalidToken
	}
	return p, nil
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
