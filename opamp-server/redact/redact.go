// Package redact hides secrets in collector configuration text: what
// agents report as their effective configuration is stored and shown
// without the credentials in it (an authorization header, an API or
// license key, a password, a token). References such as ${env:NAME} are
// not secrets and stay.
package redact // import "github.com/phoenix/platform/opamp-server/redact"

import (
	"regexp"
	"strings"
)

// Placeholder replaces a secret.
const Placeholder = "<redacted>"

// secretNames are key names whose values are secrets.
const secretNames = `(?:[a-z0-9_.-]*(?:api[-_]?key|license[-_]?key|password|passwd|secret|token|credentials?)|authorization|x-[a-z-]*key)`

var (
	// secretName is a whole key that names a secret.
	secretName = regexp.MustCompile(`(?i)^` + secretNames + `$`)
	// bearer is a bearer credential anywhere in the text.
	bearer = regexp.MustCompile(`(?i)(bearer\s+)([A-Za-z0-9._~+/=-]{8,})`)
	// secretKey is a YAML key whose value is a secret, in block or flow
	// style, with its value: a reference, a quoted string, or up to the end
	// of the line or of the flow item.
	secretKey = regexp.MustCompile(`(?i)((?:^|[\s{,])["']?` + secretNames + `["']?\s*:[ \t]*)(\$\{[^}\n]*\}|"[^"\n]*"|'[^'\n]*'|[^\s,}#"'][^,}\n#]*)`)
)

// Config returns cfg with every secret value replaced by Placeholder.
func Config(cfg string) string {
	cfg = bearer.ReplaceAllStringFunc(cfg, func(m string) string {
		parts := bearer.FindStringSubmatch(m)
		if isReference(parts[2]) {
			return m
		}
		return parts[1] + Placeholder
	})
	return secretKey.ReplaceAllStringFunc(cfg, func(m string) string {
		parts := secretKey.FindStringSubmatch(m)
		value := strings.TrimSpace(parts[2])
		if isReference(value) || strings.Contains(value, Placeholder) || value == "" || value == "|" || value == ">" {
			return m
		}
		return parts[1] + Placeholder
	})
}

// isReference reports whether a value only points at a secret held
// elsewhere (${env:NAME}, ${file:…}), with or without quotes and a scheme
// word such as "Bearer" before it.
func isReference(v string) bool {
	v = strings.Trim(v, `"' `)
	if i := strings.LastIndexByte(v, ' '); i >= 0 && strings.HasPrefix(v[i+1:], "${") {
		v = v[i+1:]
	}
	return strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") && !strings.Contains(v[2:len(v)-1], "${")
}

// Params returns parameters with the value of every key that names a
// secret, at any depth, replaced by Placeholder (an otlp_headers entry
// "x-api-key", say). Parameters that name an environment variable holding
// the secret (…_env) are not secrets. params is not modified.
func Params(params map[string]any) map[string]any {
	if params == nil {
		return nil
	}
	out := make(map[string]any, len(params))
	for k, v := range params {
		if strings.HasSuffix(k, "_env") || strings.HasSuffix(k, "_env_headers") {
			out[k] = v // names of environment variables, not their values
			continue
		}
		out[k] = value(k, v)
	}
	return out
}

func value(key string, v any) any {
	switch v := v.(type) {
	case map[string]any:
		return Params(v)
	case map[string]string:
		m := make(map[string]any, len(v))
		for k, s := range v {
			m[k] = value(k, s)
		}
		return m
	case string:
		if secretName.MatchString(key) && !strings.HasSuffix(strings.ToLower(key), "_env") && !isReference(v) && v != "" {
			return Placeholder
		}
		return Config(v)
	}
	return v
}
