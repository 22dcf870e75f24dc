package assignment

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution/hostaccess"
)

// DefaultEnvAllowlist is what `phoenix server` allows when its
// configuration sets no agent_env_allowlist: the New Relic license key the
// catalog's newrelic destination reads, and OTLP_*, the prefix the catalog
// suggests for OTLP destination headers (otlp_env_headers). Broader
// prefixes (PHOENIX_*, NEW_RELIC_*, OTEL_*) also match the CLI's admin
// token variable (PHOENIX_TOKEN), New Relic user API keys and whatever else
// shares a vendor's prefix: nothing is on the list that was not put in the
// collector's environment to be sent to a destination (docs/security.md).
var DefaultEnvAllowlist = []string{"NEW_RELIC_LICENSE_KEY", "OTLP_*"}

// envPattern is what an allowlist pattern may hold: variable name
// characters and path.Match's wildcards.
var envPattern = regexp.MustCompile(`^[A-Za-z0-9_*?\[\]^!-]+$`)

// CheckEnvAllowlist checks allowlist patterns: path.Match globs over
// environment variable names.
func CheckEnvAllowlist(patterns []string) error {
	var errs []error
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil || !envPattern.MatchString(p) {
			errs = append(errs, fmt.Errorf("%q is not a pattern of environment variable names (letters, digits, _, and the wildcards * ? [...])", p))
		}
	}
	return errors.Join(errs...)
}

// envAllowed reports whether a caller without Grants.HostAccess may make
// collectors read an environment variable, and so send its value wherever
// the configuration sends data: one the catalog's own configurations
// reference (CatalogEnv), or one Settings.EnvAllowlist allows.
func (s *Service) envAllowed(name string) bool {
	if name == apitypes.AgentTokenEnv {
		return false // only the server's telemetry_token_env names it (DeniedEnv)
	}
	if s.catalogEnv()[name] {
		return true
	}
	for _, p := range s.set.EnvAllowlist {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// DeniedEnv lists the environment variables the env_var parameters among
// params name (catalog.EnvUses) that a caller without Grants.HostAccess may
// not give (envAllowed). With config, the configuration rendered from
// params, a variable it does not reference is left out: a parameter the
// configuration does not use (newrelic_license_key_env without the
// newrelic destination) sends nothing.
func (s *Service) DeniedEnv(pipeline string, params map[string]any, config string) []catalog.EnvUse {
	var used map[string]bool
	if config != "" {
		used = envUsed([]byte(config))
	}
	return s.deniedEnv(pipeline, params, used)
}

// envUsed lists the ${env:NAME} a configuration references; nil when it
// does not parse (then every named variable counts as used).
func envUsed(config []byte) map[string]bool {
	accesses, err := hostaccess.Find(config)
	if err != nil {
		return nil
	}
	used := map[string]bool{}
	for _, a := range accesses {
		if a.Kind == hostaccess.KindEnv {
			used[a.Name] = true
		}
	}
	return used
}

// deniedEnv is DeniedEnv with the variables the configuration references
// already found (nil: unknown, every one counts).
func (s *Service) deniedEnv(pipeline string, params map[string]any, used map[string]bool) []catalog.EnvUse {
	var out []catalog.EnvUse
	for _, u := range s.set.Catalog.EnvUses(pipeline, params) {
		if u.Param == "telemetry_token_env" && u.Name == apitypes.AgentTokenEnv {
			continue // the server's own: the agent's credential, to the server only
		}
		if (used == nil || used[u.Name]) && !s.envAllowed(u.Name) {
			out = append(out, u)
		}
	}
	return out
}

// notAllowed ends the message of an environment variable a caller without
// Grants.HostAccess may not name.
const notAllowed = "which no catalog pipeline references and the server's agent_env_allowlist does not allow"

// EnvUseMessage says what a parameter naming a variable does, for a
// person: `names environment variable X (key "authorization"), which …`.
func EnvUseMessage(u catalog.EnvUse) string {
	msg := "names environment variable " + u.Name
	if u.Key != "" {
		msg += " (key " + strconv.Quote(u.Key) + ")"
	}
	return msg + ", " + notAllowed + ": the collector would send its value where the configuration sends data"
}

// envUsesText lists parameter uses for an error message.
func envUsesText(uses []catalog.EnvUse) []string {
	out := make([]string, len(uses))
	for i, u := range uses {
		out[i] = "parameter " + u.Param + ": " + EnvUseMessage(u)
	}
	return out
}
