package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Value is a validated parameter value as templates see it. Printing one
// ({{ .k }}) writes it as a YAML flow value in which every string is a
// double-quoted scalar with '$' doubled: a value can neither add keys nor
// reach the collector's ${...} expansion, whatever it contains. Templates
// branch with the methods below; none returns the raw string.
type Value struct {
	v any // canonical form: string, int, bool, []string, map[string]string, []Rule
	// env is set for the values of an env_var parameter (a map's values,
	// not its keys): only they may be written as ${env:NAME}.
	env bool
}

// String renders the value as YAML. Durations are canonical strings.
func (v Value) String() string {
	var b strings.Builder
	switch x := v.v.(type) {
	case string:
		writeQuoted(&b, x)
	case int:
		b.WriteString(strconv.Itoa(x))
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case []string:
		b.WriteByte('[')
		for i, s := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuoted(&b, s)
		}
		b.WriteByte(']')
	case map[string]string:
		b.WriteByte('{')
		for i, k := range slices.Sorted(maps.Keys(x)) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeQuoted(&b, k)
			b.WriteString(": ")
			writeQuoted(&b, x[k])
		}
		b.WriteByte('}')
	case []Rule:
		writeRules(&b, x)
	default:
		// Unreachable for normalised values. An unterminated flow mapping
		// fails the parse rather than emitting something unchecked.
		return fmt.Sprintf("{invalid value of type %T", x)
	}
	return b.String()
}

// writeQuoted writes s as a double-quoted YAML scalar. JSON string syntax is
// a subset of YAML's double-quoted style. '$' is doubled because the
// collector expands ${...} in every string and turns "$$" back into "$".
// JSON leaves C1 controls and the byte-order mark as they are, but YAML
// reads U+0085 as a line break (folded to a space) and refuses the others,
// so they are escaped too.
func writeQuoted(b *strings.Builder, s string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(strings.ReplaceAll(s, "$", "$$")) // a string always encodes
	for _, r := range string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))) {
		if r >= 0x80 && r <= 0x9f || r == 0xfeff {
			fmt.Fprintf(b, `\u%04x`, r)
			continue
		}
		b.WriteRune(r)
	}
}

func writeRules(b *strings.Builder, rules []Rule) {
	b.WriteByte('[')
	for i, r := range rules {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('{')
		first := true
		for _, k := range ruleKeys {
			val := *r.field(k)
			if val == "" && k != "name" {
				continue
			}
			if !first {
				b.WriteString(", ")
			}
			first = false
			b.WriteString(k)
			b.WriteString(": ")
			writeQuoted(b, val)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
}

// Is reports whether a string or enum value equals s.
func (v Value) Is(s string) bool {
	str, ok := v.v.(string)
	return ok && str == s
}

// On reports whether a bool value is true.
func (v Value) On() bool {
	b, ok := v.v.(bool)
	return ok && b
}

// Set reports whether the value is not its type's zero: a non-empty string,
// list, map or rule list, a non-zero int, true.
func (v Value) Set() bool {
	switch x := v.v.(type) {
	case string:
		return x != ""
	case int:
		return x != 0
	case bool:
		return x
	case []string:
		return len(x) > 0
	case map[string]string:
		return len(x) > 0
	case []Rule:
		return len(x) > 0
	}
	return false
}

// Millis renders a duration value as whole milliseconds, the unit of the
// collector's own-telemetry readers.
func (v Value) Millis() (int64, error) {
	s, _ := v.v.(string)
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("Millis: not a duration: %w", err)
	}
	return d.Milliseconds(), nil
}

// Host renders the host of a "host:port" value as a quoted string, brackets
// of an IPv6 address removed: readers that take host and port apart (the
// collector's Prometheus pull reader) need it.
func (v Value) Host() (Value, error) {
	h, _, err := v.splitHostPort("Host")
	return Value{v: h}, err
}

// Port renders the port of a "host:port" value as a number.
func (v Value) Port() (int, error) {
	_, p, err := v.splitHostPort("Port")
	return p, err
}

func (v Value) splitHostPort(method string) (string, int, error) {
	s, _ := v.v.(string)
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %q is not host:port: %w", method, s, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("%s: %q: port %q is not a number from 1 to 65535", method, s, p)
	}
	return h, port, nil
}

// BearerEnvRef renders a value holding an environment variable's name as
// "Bearer ${env:NAME}": a bearer credential the collector reads from its
// environment.
func (v Value) BearerEnvRef() (string, error) {
	ref, err := v.EnvRef()
	if err != nil {
		return "", err
	}
	return `"Bearer ` + ref[1:], nil
}

// EnvRef renders a value holding an environment variable's name as a
// reference the collector expands when it loads the configuration,
// "${env:NAME}": how secrets reach a configuration without being written
// into it. The name is checked again here, because this is the one place a
// "${" is written unescaped.
func (v Value) EnvRef() (string, error) {
	if !v.env {
		// Every variable a configuration reads must be declared, so the
		// control plane can tell which parameters name one (Param.EnvVar).
		return "", fmt.Errorf("EnvRef: the parameter is not marked env_var")
	}
	s, _ := v.v.(string)
	if !envName.MatchString(s) {
		return "", fmt.Errorf("EnvRef: %q is not an environment variable name", s)
	}
	return `"${env:` + s + `}"`, nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Entry is one key and value of a map value.
type Entry struct{ Key, Value Value }

// Entries lists a map value's entries sorted by key.
func (v Value) Entries() []Entry {
	m, _ := v.v.(map[string]string)
	out := make([]Entry, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Entry{Key: Value{v: k}, Value: Value{v: m[k], env: v.env}})
	}
	return out
}
