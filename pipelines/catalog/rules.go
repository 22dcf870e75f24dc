package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/phoenix/platform/processors/contract/criticalrules"
)

// toRules accepts rules as []Rule, as criticalrules.Rules, or decoded from
// JSON (a list of objects), and checks them exactly as process_critical and
// cost_meter will.
func toRules(v any) ([]Rule, error) {
	var rules []Rule
	switch l := v.(type) {
	case []Rule:
		rules = slices.Clone(l)
	case criticalrules.Rules:
		rules = fromCriticalRules(l)
	case []criticalrules.Rule:
		rules = fromCriticalRules(l)
	case []any:
		rules = make([]Rule, len(l))
		for i, e := range l {
			r, err := ruleFromObject(e)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", i, err)
			}
			rules[i] = r
		}
	case []map[string]any:
		rules = make([]Rule, len(l))
		for i, e := range l {
			r, err := ruleFromObject(e)
			if err != nil {
				return nil, fmt.Errorf("rule %d: %w", i, err)
			}
			rules[i] = r
		}
	default:
		return nil, wrongType("a list of rules", v)
	}
	return rules, checkRules(rules)
}

func checkRules(rules []Rule) error {
	first := map[string]int{}
	for i, r := range rules {
		cr := r.critical()
		if err := cr.Validate(); err != nil {
			return fmt.Errorf("rule %d: %s", i, oneLine(err))
		}
		if j, dup := first[r.Name]; dup {
			return fmt.Errorf("rule %d: %w %q (first used by rule %d)", i, criticalrules.ErrDuplicateName, r.Name, j)
		}
		first[r.Name] = i
	}
	return nil
}

// ruleKeys are the JSON keys of a rule, in the order they are rendered.
var ruleKeys = []string{"name", "executable_name", "executable_path", "command_line", "owner"}

func ruleFromObject(v any) (Rule, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return Rule{}, wrongType("an object", v)
	}
	var r Rule
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		s, ok := obj[k].(string)
		if !slices.Contains(ruleKeys, k) {
			return Rule{}, fmt.Errorf("unknown key %q (want %s)", k, quoteList(ruleKeys))
		}
		if !ok {
			return Rule{}, fmt.Errorf("%s: %w", k, wrongType("a string", obj[k]))
		}
		*r.field(k) = s
	}
	return r, nil
}

func (r *Rule) field(key string) *string {
	switch key {
	case "name":
		return &r.Name
	case "executable_name":
		return &r.ExecutableName
	case "executable_path":
		return &r.ExecutablePath
	case "command_line":
		return &r.CommandLine
	default:
		return &r.Owner
	}
}

func (r Rule) critical() criticalrules.Rule {
	return criticalrules.Rule{
		Name: r.Name, ExecutableName: r.ExecutableName, ExecutablePath: r.ExecutablePath,
		CommandLine: r.CommandLine, Owner: r.Owner,
	}
}

func fromCriticalRules(rs []criticalrules.Rule) []Rule {
	out := make([]Rule, len(rs))
	for i, r := range rs {
		out[i] = Rule{
			Name: r.Name, ExecutableName: r.ExecutableName, ExecutablePath: r.ExecutablePath,
			CommandLine: r.CommandLine, Owner: r.Owner,
		}
	}
	return out
}

// oneLine flattens errors.Join's newline-separated messages.
func oneLine(err error) string {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		parts := make([]string, 0, len(joined.Unwrap()))
		for _, e := range joined.Unwrap() {
			parts = append(parts, oneLine(e))
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}
