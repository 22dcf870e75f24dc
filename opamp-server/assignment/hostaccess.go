package assignment

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution/hostaccess"
)

// Grants are what the caller of an assignment may do beyond assigning
// catalog pipelines and verbatim configurations that reach no further into
// the agents' hosts than the catalog's own configurations do.
type Grants struct {
	// HostAccess allows a verbatim configuration with host access
	// (Checked.HostAccess): the REST API grants it to callers with
	// auth.PermHostAccess, admins.
	HostAccess bool
}

// Checked is a configuration that validated.
type Checked struct {
	Hash string
	// HostAccess lists what in it reaches into the hosts it runs on beyond
	// the catalog's own configurations: every reference the collector
	// resolves on the host (${file:...}, ${http(s):...}, ${env:NAME}) but
	// ${env:NAME} for a NAME the catalog's configurations reference or
	// Settings.EnvAllowlist allows, and
	// every component or setting that reads or writes the host's files
	// (hostaccess.Find). Assigning it verbatim needs Grants.HostAccess.
	HostAccess []hostaccess.Access
}

// HostAccessError refuses, to a caller without Grants.HostAccess, a
// verbatim configuration with host access, or catalog parameters naming
// environment variables that caller may not name (DeniedEnv). Nothing was
// stored.
type HostAccessError struct {
	Accesses []hostaccess.Access
	Params   []catalog.EnvUse
}

func (e *HostAccessError) Error() string {
	parts := make([]string, 0, len(e.Accesses)+len(e.Params))
	for _, a := range e.Accesses {
		parts = append(parts, a.Path+": "+AccessMessage(a))
	}
	parts = append(parts, envUsesText(e.Params)...)
	return "assigning this configuration needs the admin role: it reads or writes files, environment variables " +
		"or URLs on every host it is assigned to (see docs/security.md): " + strings.Join(parts, "; ")
}

// AccessMessage says what one access of Checked.HostAccess does, for a
// person: "${file:/etc/x} reads file /etc/x".
func AccessMessage(a hostaccess.Access) string {
	msg := a.Reason()
	if a.Ref != "" {
		msg = a.Ref + " " + msg
	}
	if a.Kind == hostaccess.KindEnv && a.Name != "" {
		msg += ", " + notAllowed
	}
	return msg
}

// AsHostAccess returns the HostAccessError in err's chain, if any.
func AsHostAccess(err error) (*HostAccessError, bool) {
	var e *HostAccessError
	ok := errors.As(err, &e)
	return e, ok
}

// Validate checks a complete configuration, and reports its hash and what
// in it needs Grants.HostAccess to be assigned. Validation resolves none of
// its references.
func (s *Service) Validate(ctx context.Context, config string) (Checked, error) {
	if err := s.set.Validate(ctx, []byte(config)); err != nil {
		return Checked{}, renderFailure{err}
	}
	accesses, err := s.HostAccess(config)
	if err != nil {
		return Checked{}, renderFailure{err}
	}
	return Checked{Hash: store.HashConfig([]byte(config)), HostAccess: accesses}, nil
}

// HostAccess lists what in a configuration needs Grants.HostAccess to be
// assigned verbatim (Checked.HostAccess).
func (s *Service) HostAccess(config string) ([]hostaccess.Access, error) {
	all, err := hostaccess.Find([]byte(config))
	if err != nil {
		return nil, err
	}
	var out []hostaccess.Access
	for _, a := range all {
		if a.Kind == hostaccess.KindEnv && s.envAllowed(a.Name) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// CatalogEnv lists, sorted, the environment variables the catalog's own
// configurations reference: a verbatim configuration may reference them
// without Grants.HostAccess.
func (s *Service) CatalogEnv() []string {
	names := make([]string, 0, len(s.catalogEnv()))
	for n := range s.catalogEnv() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// catalogEnvNames finds the environment variables the catalog's templates
// reference, from what they render rather than from a list kept beside
// them: every pipeline is rendered with its defaults and the server's own
// parameters (the agent token's variable, apitypes.AgentTokenEnv), then
// once more for each other value of each enum and bool parameter (such as
// destination: newrelic, whose license key variable defaults to
// NEW_RELIC_LICENSE_KEY), and the ${env:NAME} of each rendering are
// collected. Names a caller chooses through a parameter
// (newrelic_license_key_env, otlp_env_headers) are not among them: a
// parameter can name any variable.
func (s *Service) catalogEnvNames() map[string]bool {
	ctx := context.Background()
	server := s.serverParams("catalog-env")
	if server["telemetry_endpoint"] == "" {
		// The agent token is sent only with own telemetry.
		server["telemetry_endpoint"] = "http://127.0.0.1:8080/v1/metrics"
	}
	names := map[string]bool{}
	for _, p := range s.set.Catalog.List() {
		for _, variation := range variations(p) {
			r, err := s.set.Catalog.Render(ctx, p.Name, s.withDeclared(p.Name, variation, server))
			if err != nil {
				continue // a value that needs others (destination: otlp_http needs an endpoint)
			}
			accesses, err := hostaccess.Find(r.Config)
			if err != nil {
				continue
			}
			for _, a := range accesses {
				if a.Kind == hostaccess.KindEnv && a.Name != "" {
					names[a.Name] = true
				}
			}
		}
	}
	// The agent's credential goes to this server only, in the
	// configurations the server renders: a verbatim configuration that
	// reads it could send it anywhere, so that needs host access.
	delete(names, apitypes.AgentTokenEnv)
	if len(names) == 0 {
		s.log.Warn("the catalog's configurations reference no environment variable; verbatim configurations that reference any need the admin role")
	}
	return names
}

// variations are the parameter sets catalogEnvNames renders a pipeline
// with: its defaults, then each other value of each enum and bool
// parameter, one at a time.
func variations(p catalog.Pipeline) []map[string]any {
	out := []map[string]any{{}}
	for _, q := range p.Params {
		switch q.Type {
		case catalog.TypeEnum:
			for _, v := range q.Enum {
				if v != q.Default {
					out = append(out, map[string]any{q.Name: v})
				}
			}
		case catalog.TypeBool:
			on, _ := q.Default.(bool)
			out = append(out, map[string]any{q.Name: !on})
		}
	}
	return out
}
