// Package selector parses and evaluates label selectors such as
// "env=prod,host=~web-.*": how experiments and the API pick agents.
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

// Matcher is one label condition.
type Matcher struct {
	Label string `json:"label"`
	Op    Op     `json:"op"`
	Value string `json:"value"`
	re    *regexp.Regexp
}

// Selector is a conjunction of matchers; the empty selector matches all.
type Selector []Matcher

// Parse reads a comma-separated selector ("env=prod, host=~web-.*"), or
// several arguments each holding one or more matchers.
func Parse(exprs ...string) (Selector, error) {
	var sel Selector
	for _, expr := range exprs {
		for _, part := range strings.Split(expr, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
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

func parseMatcher(s string) (Matcher, error) {
	// Longest operators first so "!=" is not read as "=".
	for _, op := range []Op{NotMatch, Match, NotEqual, Equal} {
		if i := strings.Index(s, string(op)); i > 0 {
			m := Matcher{Label: strings.TrimSpace(s[:i]), Op: op, Value: strings.TrimSpace(s[i+len(op):])}
			return m.compile()
		}
	}
	return Matcher{}, fmt.Errorf("selector %q: want label, an operator (%s) and a value", s, operators)
}

func (m Matcher) compile() (Matcher, error) {
	if m.Label == "" {
		return m, fmt.Errorf("selector %q: empty label", m.String())
	}
	switch m.Op {
	case Equal, NotEqual:
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
