// Package selector parses and evaluates label selectors such as
// "env=prod,host.name=~web-.*": how experiments and the API pick agents.
//
// The grammar (white space around matchers and operators is ignored):
//
//	selector = matcher { "," matcher }
//	matcher  = label op value
//	label    = 1*128 ( letter | digit | "." | "_" | "-" | "/" )
//	op       = "=" | "!=" | "=~" | "!~"
//	value    = up to 1024 characters; no "," and, after "=" or "!=", no
//	           "=", "!" or "~" (write such a value as a regular expression)
//
// =~ and !~ take an RE2 regular expression that must match the whole value.
// A selector holds at most 64 matchers. A label an agent lacks has the value
// "".
package selector // import "github.com/phoenix/platform/opamp-server/selector"

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Op is a matcher's comparison.
type Op string

// Operators: equality, inequality, and whole-value regular expressions.
const (
	Equal     Op = "="
	NotEqual  Op = "!="
	Match     Op = "=~"
	NotMatch  Op = "!~"
	operators    = "=, !=, =~ or !~"
)

// Bounds of a selector.
const (
	MaxMatchers    = 64
	MaxLabelLength = 128
	MaxValueLength = 1024
)

// Matcher is one label condition.
type Matcher struct {
	Label string `json:"label"`
	Op    Op     `json:"op"`
	Value string `json:"value"`
	re    *regexp.Regexp
}

// Selector is a conjunction of matchers; the empty selector matches all.
type Selector []Matcher

// Parse reads a comma-separated selector ("env=prod, host.name=~web-.*"),
// or several arguments each holding one or more matchers. An empty selector
// (no matcher at all) matches every agent: callers that must not select
// everything use ParseRequired.
func Parse(exprs ...string) (Selector, error) {
	var sel Selector
	for _, expr := range exprs {
		for part := range strings.SplitSeq(expr, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if len(sel) == MaxMatchers {
				return nil, fmt.Errorf("selector: more than %d matchers", MaxMatchers)
			}
			m, err := parseMatcher(part)
			if err != nil {
				return nil, err
			}
			sel = append(sel, m)
		}
	}
	return sel, nil
}

// ParseRequired is Parse for a selector that must name at least one
// matcher: ",", " " or "" would otherwise select every agent.
func ParseRequired(exprs ...string) (Selector, error) {
	sel, err := Parse(exprs...)
	if err == nil && len(sel) == 0 {
		err = fmt.Errorf("selector is required and must hold at least one matcher (for example env=prod): an empty one would select every agent")
	}
	return sel, err
}

// parseMatcher reads label, operator and value in that order: the label is
// the longest run of label characters, so "env=a!=b" is label "env", "="
// and a value that is refused, never label "env=a".
func parseMatcher(s string) (Matcher, error) {
	i := 0
	for i < len(s) && isLabelByte(s[i]) {
		i++
	}
	m := Matcher{Label: s[:i]}
	rest := strings.TrimLeft(s[i:], " \t")
	for _, op := range []Op{NotMatch, Match, NotEqual, Equal} { // two-character operators first
		if strings.HasPrefix(rest, string(op)) {
			m.Op, m.Value = op, strings.TrimSpace(rest[len(op):])
			return m.compile()
		}
	}
	if m.Label == "" {
		return Matcher{}, fmt.Errorf("selector %q: want a label (letters, digits, '.', '_', '-', '/') first", s)
	}
	return Matcher{}, fmt.Errorf("selector %q: want label, an operator (%s) and a value", s, operators)
}

func isLabelByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/'
}

func (m Matcher) compile() (Matcher, error) {
	switch {
	case m.Label == "":
		return m, fmt.Errorf("selector %q: empty label", m.String())
	case len(m.Label) > MaxLabelLength:
		return m, fmt.Errorf("selector: label longer than %d characters", MaxLabelLength)
	case len(m.Value) > MaxValueLength:
		return m, fmt.Errorf("selector %q: value longer than %d characters", m.Label, MaxValueLength)
	case strings.Contains(m.Value, ","):
		return m, fmt.Errorf("selector %q: a value cannot hold ','", m.String())
	}
	for i := 0; i < len(m.Label); i++ {
		if !isLabelByte(m.Label[i]) {
			return m, fmt.Errorf("selector %q: label %q may hold only letters, digits, '.', '_', '-' and '/'", m.String(), m.Label)
		}
	}
	switch m.Op {
	case Equal, NotEqual:
		if strings.ContainsAny(m.Value, "=!~") {
			return m, fmt.Errorf("selector %q: the value holds an operator character (=, ! or ~), which reads ambiguously; "+
				"match it with a regular expression instead (%s=~...)", m.String(), m.Label)
		}
	case Match, NotMatch:
		re, err := regexp.Compile(`^(?:` + m.Value + `)$`)
		if err != nil {
			return m, fmt.Errorf("selector %q: invalid regular expression: %w", m.String(), err)
		}
		m.re = re
	default:
		return m, fmt.Errorf("selector %q: unknown operator %q (want %s)", m.String(), m.Op, operators)
	}
	return m, nil
}

// Compile prepares matchers built as values (for example decoded from JSON).
func (sel Selector) Compile() (Selector, error) {
	out := make(Selector, len(sel))
	for i, m := range sel {
		c, err := m.compile()
		if err != nil {
			return nil, err
		}
		out[i] = c
	}
	return out, nil
}

func (m Matcher) String() string { return m.Label + string(m.Op) + m.Value }

// String renders the selector in its parseable form.
func (sel Selector) String() string {
	parts := make([]string, len(sel))
	for i, m := range sel {
		parts[i] = m.String()
	}
	return strings.Join(parts, ",")
}

// Matches reports whether labels satisfy every matcher. A missing label is
// the empty string.
func (sel Selector) Matches(labels map[string]string) bool {
	for _, m := range sel {
		v := labels[m.Label]
		var ok bool
		switch m.Op {
		case Equal:
			ok = v == m.Value
		case NotEqual:
			ok = v != m.Value
		case Match:
			ok = m.re != nil && m.re.MatchString(v)
		case NotMatch:
			ok = m.re != nil && !m.re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// Equalities returns the plain equality matchers, which stores can filter on
// directly; the caller still applies Matches for the rest.
func (sel Selector) Equalities() map[string]string {
	eq := map[string]string{}
	for _, m := range sel {
		if m.Op == Equal {
			eq[m.Label] = m.Value
		}
	}
	if len(eq) == 0 {
		return nil
	}
	return eq
}

// Labels returns the label names the selector mentions, sorted.
func (sel Selector) Labels() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range sel {
		if !seen[m.Label] {
			seen[m.Label] = true
			out = append(out, m.Label)
		}
	}
	sort.Strings(out)
	return out
}
