// Package redact hides secrets in collector configuration text: what
// agents report as their effective configuration is stored and shown
// without the credentials in it (an authorization header, an API or
// license key, a password, a token). References such as ${env:NAME} are
// not secrets and stay.
package redact // import "github.com/phoenix/platform/opamp-server/redact"

import (
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
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
//
// Agents report their whole effective configuration, kilobytes at a time,
// and the patterns have no literal prefix for the regexp engine to search
// for, so running them over all of it dominated the OpAMP endpoint's CPU.
// Config runs them only over the lines that name a secret, which gives the
// same text (FuzzConfigLines holds it to that): no match can cross a line
// break unless the break follows a secret's name, and lines are kept
// together there.
func Config(cfg string) string {
	if !isASCII(cfg) {
		// Case folding maps some non-ASCII letters onto ASCII ones (the
		// Kelvin sign is a k): only the patterns themselves can tell.
		return redactText(cfg)
	}
	lower := strings.ToLower(cfg) // ASCII: the same offsets
	// Most texts hold no secret: nothing is copied until a chunk changes.
	var b strings.Builder
	start, copied := 0, 0 // cfg[:copied] is in b
	for start < len(cfg) {
		end := chunkEnd(cfg, start)
		if chunk := cfg[start:end]; mayNameSecret(lower[start:end]) {
			if out := redactText(chunk); out != chunk {
				b.WriteString(cfg[copied:start])
				b.WriteString(out)
				copied = end
			}
		}
		start = end
	}
	if copied == 0 {
		return cfg
	}
	b.WriteString(cfg[copied:])
	return b.String()
}

// chunkEnd is where the chunk starting at start ends: after the first line
// break that no match can cross.
func chunkEnd(cfg string, start int) int {
	for i := start; ; {
		n := strings.IndexByte(cfg[i:], '\n')
		if n < 0 {
			return len(cfg)
		}
		i += n + 1
		if !nameBefore(cfg[start : i-1]) {
			return i
		}
	}
}

// nameBefore reports whether text ends, but for white space, with a word
// after which a pattern may go on over white space (line breaks
// included): a secret's key, optionally quoted, or "bearer".
func nameBefore(text string) bool {
	text = strings.TrimRight(text, " \t\r\n\v\f")
	text = strings.TrimRight(text, `"'`)
	i := len(text)
	for i > 0 && isKeyByte(text[i-1]) {
		i--
	}
	word := strings.ToLower(text[i:])
	if !mayNameSecret(word) {
		return false // the common case, without the pattern
	}
	return secretName.MatchString(word) || strings.HasSuffix(word, "bearer")
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// triggers are the words every match contains: the secret names' stems
// and "bearer".
var triggers = []string{"key", "passw", "secret", "token", "credential", "authorization", "bearer"}

// mayNameSecret reports whether a lower-case chunk holds a trigger.
func mayNameSecret(lower string) bool {
	for _, t := range triggers {
		if strings.Contains(lower, t) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// redactText runs the patterns over the whole of text.
func redactText(cfg string) string {
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
		if namesSecret(key) && !strings.HasSuffix(strings.ToLower(key), "_env") && !isReference(v) && v != "" {
			return Placeholder
		}
		return Config(v)
	}
	return v
}

// secretKeys remembers which parameter names name a secret: a fleet's
// listing asks about the same few names for every agent.
var secretKeys sync.Map // string → bool

// maxSecretKeys bounds what secretKeys remembers (names come from callers).
const maxSecretKeys = 4096

var secretKeysLen atomic.Int64

func namesSecret(key string) bool {
	if v, ok := secretKeys.Load(key); ok {
		return v.(bool)
	}
	is := secretName.MatchString(key)
	if secretKeysLen.Load() < maxSecretKeys {
		if _, loaded := secretKeys.LoadOrStore(key, is); !loaded {
			secretKeysLen.Add(1)
		}
	}
	return is
}
