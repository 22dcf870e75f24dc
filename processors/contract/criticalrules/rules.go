// Package criticalrules holds the critical-process rule syntax shared by
// process_critical, cost_meter and experiment specs: named rules whose regular
// expressions are matched, whole-value, against a process resource's attributes.
package criticalrules // import "github.com/phoenix/platform/processors/contract/criticalrules"

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// Rule marks a process as critical when every matcher it sets matches. Matchers
// are regular expressions that must match the whole attribute value: "postgres"
// matches "postgres" but not "postgres-exporter".
type Rule struct {
	// Name identifies the rule in markers, decisions and results. Required and
	// unique within a rule list.
	Name string `mapstructure:"name" json:"name" yaml:"name"`
	// ExecutableName is matched against process.executable.name.
	ExecutableName string `mapstructure:"executable_name" json:"executable_name,omitempty" yaml:"executable_name,omitempty"`
	// ExecutablePath is matched against process.executable.path.
	ExecutablePath string `mapstructure:"executable_path" json:"executable_path,omitempty" yaml:"executable_path,omitempty"`
	// CommandLine is matched against process.command_line.
	CommandLine string `mapstructure:"command_line" json:"command_line,omitempty" yaml:"command_line,omitempty"`
	// Owner is matched against process.owner.
	Owner string `mapstructure:"owner" json:"owner,omitempty" yaml:"owner,omitempty"`
}

// Errors returned by validation. Each is wrapped with the offending key.
var (
	ErrMissingName   = errors.New("name is required")
	ErrDuplicateName = errors.New("duplicate rule name")
	ErrNoMatcher     = errors.New("at least one of executable_name, executable_path, command_line or owner is required")
)

// fields pairs each matcher's config key with its resource attribute.
func (r *Rule) fields() [4]struct{ key, attr, expr string } {
	return [4]struct{ key, attr, expr string }{
		{"executable_name", processmetrics.AttrExecutableName, r.ExecutableName},
		{"executable_path", processmetrics.AttrExecutablePath, r.ExecutablePath},
		{"command_line", processmetrics.AttrCommandLine, r.CommandLine},
		{"owner", processmetrics.AttrOwner, r.Owner},
	}
}

// Validate checks one rule. Errors name the offending key.
func (r *Rule) Validate() error {
	var errs []error
	if strings.TrimSpace(r.Name) == "" {
		errs = append(errs, ErrMissingName)
	}
	matchers := 0
	for _, f := range r.fields() {
		if f.expr == "" {
			continue
		}
		matchers++
		if _, err := regexp.Compile(f.expr); err != nil {
			errs = append(errs, fmt.Errorf("%s: invalid regular expression %q: %w", f.key, f.expr, err))
		}
	}
	if matchers == 0 {
		errs = append(errs, ErrNoMatcher)
	}
	return errors.Join(errs...)
}

// Rules is an ordered rule list; the first matching rule names the match.
type Rules []Rule

// Validate checks the list as a whole; each rule validates itself.
func (rs Rules) Validate() error {
	seen := make(map[string]int, len(rs))
	var errs []error
	for i, r := range rs {
		if r.Name == "" {
			continue
		}
		if first, dup := seen[r.Name]; dup {
			errs = append(errs, fmt.Errorf("%d::name: %w %q (first used by rule %d)", i, ErrDuplicateName, r.Name, first))
			continue
		}
		seen[r.Name] = i
	}
	return errors.Join(errs...)
}

// Matcher evaluates compiled rules against process resources. It is immutable
// and safe for concurrent use.
type Matcher struct {
	rules []compiledRule
}

type compiledRule struct {
	name     string
	matchers []valueMatcher
}

type valueMatcher struct {
	attr string
	// literals is set when the expression is a plain alternation of literal
	// words ("postgres|mysqld"): a set lookup instead of a regexp run.
	literals map[string]struct{}
	re       *regexp.Regexp
}

// Compile validates and compiles rules. Expressions are anchored so they match
// whole values.
func Compile(rs Rules) (*Matcher, error) {
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	m := &Matcher{rules: make([]compiledRule, 0, len(rs))}
	for i := range rs {
		r := &rs[i]
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("%d: %w", i, err)
		}
		cr := compiledRule{name: r.Name}
		for _, f := range r.fields() {
			if f.expr == "" {
				continue
			}
			vm := valueMatcher{attr: f.attr, literals: literalSet(f.expr)}
			if vm.literals == nil {
				vm.re = regexp.MustCompile(`^(?:` + f.expr + `)$`)
			}
			cr.matchers = append(cr.matchers, vm)
		}
		m.rules = append(m.rules, cr)
	}
	return m, nil
}

// literalSet returns the words of a pure literal alternation, or nil when the
// expression uses any regular-expression syntax.
func literalSet(expr string) map[string]struct{} {
	words := strings.Split(expr, "|")
	set := make(map[string]struct{}, len(words))
	for _, w := range words {
		if w == "" || regexp.QuoteMeta(w) != w {
			return nil
		}
		set[w] = struct{}{}
	}
	return set
}

// Uses reports whether some rule matches on the resource attribute attr:
// when none does, the attribute cannot change what Match returns.
func (m *Matcher) Uses(attr string) bool {
	for i := range m.rules {
		for _, vm := range m.rules[i].matchers {
			if vm.attr == attr {
				return true
			}
		}
	}
	return false
}

// Len returns the number of rules.
func (m *Matcher) Len() int { return len(m.rules) }

// Match returns the name of the first rule every matcher of which matches the
// resource's attributes. Missing attributes match as the empty string.
func (m *Matcher) Match(attrs pcommon.Map) (rule string, ok bool) {
	for i := range m.rules {
		if m.rules[i].matches(attrs) {
			return m.rules[i].name, true
		}
	}
	return "", false
}

func (cr *compiledRule) matches(attrs pcommon.Map) bool {
	for i := range cr.matchers {
		vm := &cr.matchers[i]
		var s string
		if v, ok := attrs.Get(vm.attr); ok {
			s = v.Str()
		}
		if vm.literals != nil {
			if _, hit := vm.literals[s]; !hit {
				return false
			}
		} else if !vm.re.MatchString(s) {
			return false
		}
	}
	return true
}
