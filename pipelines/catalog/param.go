package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Type is the type of a parameter's value.
type Type string

// Parameter types. Values arrive as Go values or decoded JSON (numbers as
// float64); each type accepts the forms listed and normalises them to the
// canonical form shown, which is what Rendered.Params reports.
const (
	// TypeString accepts a string; canonical string.
	TypeString Type = "string"
	// TypeInt accepts int, int32, int64, json.Number or an integral float64;
	// canonical int.
	TypeInt Type = "int"
	// TypeBool accepts a bool; canonical bool.
	TypeBool Type = "bool"
	// TypeDuration accepts a Go duration string ("30s") or a time.Duration;
	// canonical time.Duration.String() ("30s", "1m30s").
	TypeDuration Type = "duration"
	// TypeEnum accepts one of the parameter's enum values; canonical string.
	TypeEnum Type = "enum"
	// TypeList accepts a list of strings, each unique; canonical []string.
	TypeList Type = "list"
	// TypeMap accepts an object of string values; canonical map[string]string.
	TypeMap Type = "map"
	// TypeRules accepts critical-process rules; canonical []Rule.
	TypeRules Type = "rules"
)

// Scope says where a parameter's value comes from when two pipelines are
// composed into one paired configuration.
type Scope string

const (
	// ScopeCollector parameters configure the collector as a whole (receiver,
	// destination, own telemetry, critical rules): one value, from
	// PairedSpec.Shared.
	ScopeCollector Scope = "collector"
	// ScopeVariant parameters configure one pipeline's Phoenix processors:
	// each arm of a paired configuration has its own, from its Ref.
	ScopeVariant Scope = "variant"
)

// Param describes one parameter of a pipeline. It is what the REST API serves
// to clients; every field is documented in docs/pipelines.md.
type Param struct {
	Name        string `json:"name" yaml:"name"`
	Type        Type   `json:"type" yaml:"type"`
	Description string `json:"description" yaml:"description"`
	// Default is the value used when the parameter is not given, in its
	// canonical form. Absent for required parameters.
	Default any `json:"default,omitempty" yaml:"default"`
	// Required parameters have no default and must be given.
	Required bool `json:"required,omitempty" yaml:"required"`
	// RequiredWhen makes a parameter with a default required to be given a
	// non-empty value when another (enum) parameter has one of the listed
	// values, e.g. {"destination": ["otlp_grpc", "otlp_http"]}.
	RequiredWhen map[string][]string `json:"required_when,omitempty" yaml:"required_when"`
	// Min and Max bound int values, and duration values (as duration strings).
	Min any `json:"min,omitempty" yaml:"min"`
	Max any `json:"max,omitempty" yaml:"max"`
	// Enum lists the allowed values of an enum, or of each list element.
	Enum []string `json:"enum,omitempty" yaml:"enum"`
	// Pattern is a regular expression the whole value must match: a string,
	// each list element, each map value.
	Pattern string `json:"pattern,omitempty" yaml:"pattern"`
	// KeyPattern is a regular expression each map key must match.
	KeyPattern string `json:"key_pattern,omitempty" yaml:"key_pattern"`
	// MinItems is the least number of list elements.
	MinItems int `json:"min_items,omitempty" yaml:"min_items"`
	// Sensitive values (tokens) should not be echoed by user interfaces.
	Sensitive bool `json:"sensitive,omitempty" yaml:"sensitive"`
	// AgentSettable parameters may be set by an agent's own
	// phoenix.param.NAME label (where it listens, where the host's root
	// is): facts of the host, never where data goes or a credential.
	AgentSettable bool `json:"agent_settable,omitempty" yaml:"agent_settable"`
	// EnvVar parameters name environment variables of the collector: the
	// string, or each value of a map. The configuration references each as
	// ${env:NAME} (Value.EnvRef, which refuses any other parameter), so the
	// collector reads it on its host and sends it where the configuration
	// sends data. The control plane limits the names a caller may give
	// (docs/security.md).
	EnvVar bool  `json:"env_var,omitempty" yaml:"env_var"`
	Scope  Scope `json:"scope" yaml:"scope"`

	pattern, keyPattern *regexp.Regexp
	minInt, maxInt      *int
	minDur, maxDur      *time.Duration
}

// Rule is a critical-process rule as the rules parameter type carries it: the
// syntax of processors/criticalrules with JSON names. Matchers are regular
// expressions matched against the whole attribute value; a rule needs a name
// and at least one matcher.
type Rule struct {
	Name           string `json:"name" yaml:"name"`
	ExecutableName string `json:"executable_name,omitempty" yaml:"executable_name,omitempty"`
	ExecutablePath string `json:"executable_path,omitempty" yaml:"executable_path,omitempty"`
	CommandLine    string `json:"command_line,omitempty" yaml:"command_line,omitempty"`
	Owner          string `json:"owner,omitempty" yaml:"owner,omitempty"`
}

// compile checks the spec itself and prepares its constraints. Errors here
// are catalog bugs, caught when the catalog loads.
func (p *Param) compile() error {
	if !paramName.MatchString(p.Name) {
		return fmt.Errorf("name %q: must match %s", p.Name, paramName)
	}
	if strings.TrimSpace(p.Description) == "" {
		return fmt.Errorf("parameter %q: description is required", p.Name)
	}
	if p.AgentSettable && p.Scope == ScopeVariant {
		return fmt.Errorf("parameter %q: agent_settable: a variant parameter is the assigner's, never an agent's", p.Name)
	}
	if p.EnvVar && p.Type != TypeString && p.Type != TypeMap {
		return fmt.Errorf("parameter %q: env_var applies to string and map only", p.Name)
	}
	if p.EnvVar && p.AgentSettable {
		return fmt.Errorf("parameter %q: agent_settable: an env_var parameter names a credential, never an agent's to choose", p.Name)
	}
	var err error
	if p.pattern, err = compileAnchored(p.Pattern); err != nil {
		return fmt.Errorf("parameter %q: pattern: %w", p.Name, err)
	}
	if p.keyPattern, err = compileAnchored(p.KeyPattern); err != nil {
		return fmt.Errorf("parameter %q: key_pattern: %w", p.Name, err)
	}
	switch p.Type {
	case TypeInt:
		if p.minInt, err = boundInt(p.Min); err != nil {
			return fmt.Errorf("parameter %q: min: %w", p.Name, err)
		}
		if p.maxInt, err = boundInt(p.Max); err != nil {
			return fmt.Errorf("parameter %q: max: %w", p.Name, err)
		}
		p.Min, p.Max = deref(p.minInt), deref(p.maxInt)
	case TypeDuration:
		if p.minDur, err = boundDuration(p.Min); err != nil {
			return fmt.Errorf("parameter %q: min: %w", p.Name, err)
		}
		if p.maxDur, err = boundDuration(p.Max); err != nil {
			return fmt.Errorf("parameter %q: max: %w", p.Name, err)
		}
		p.Min, p.Max = durationString(p.minDur), durationString(p.maxDur)
	case TypeEnum:
		if len(p.Enum) == 0 {
			return fmt.Errorf("parameter %q: an enum needs enum values", p.Name)
		}
	case TypeString, TypeBool, TypeList, TypeMap, TypeRules:
	default:
		return fmt.Errorf("parameter %q: unknown type %q", p.Name, p.Type)
	}
	if err := p.checkConstraintsApply(); err != nil {
		return fmt.Errorf("parameter %q: %w", p.Name, err)
	}
	switch {
	case p.Required && (p.Default != nil || p.RequiredWhen != nil):
		return fmt.Errorf("parameter %q: a required parameter has neither default nor required_when", p.Name)
	case p.Required:
		return nil
	case p.Default == nil:
		return fmt.Errorf("parameter %q: an optional parameter needs a default", p.Name)
	}
	return p.setDefault(p.Default)
}

// setDefault replaces the default, checked like any value.
func (p *Param) setDefault(v any) error {
	def, err := p.normalize(v)
	if err != nil {
		return fmt.Errorf("parameter %q: default: %w", p.Name, err)
	}
	p.Default = def
	return nil
}

// checkConstraintsApply refuses constraints the type does not use, so a spec
// never promises a check that is not made.
func (p *Param) checkConstraintsApply() error {
	is := func(types ...Type) bool { return slices.Contains(types, p.Type) }
	switch {
	case (p.Min != nil || p.Max != nil) && !is(TypeInt, TypeDuration):
		return fmt.Errorf("min and max apply to int and duration only")
	case len(p.Enum) > 0 && !is(TypeEnum, TypeList):
		return fmt.Errorf("enum applies to enum and list only")
	case p.Pattern != "" && !is(TypeString, TypeList, TypeMap):
		return fmt.Errorf("pattern applies to string, list and map only")
	case p.KeyPattern != "" && !is(TypeMap):
		return fmt.Errorf("key_pattern applies to map only")
	case p.MinItems != 0 && !is(TypeList):
		return fmt.Errorf("min_items applies to list only")
	}
	return nil
}

var paramName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func compileAnchored(expr string) (*regexp.Regexp, error) {
	if expr == "" {
		return nil, nil
	}
	return regexp.Compile(`^(?:` + expr + `)$`)
}

func boundInt(v any) (*int, error) {
	if v == nil {
		return nil, nil
	}
	n, err := toInt(v)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

// deref and durationString give bounds their canonical JSON form; nil stays
// nil so an absent bound is omitted.
func deref(n *int) any {
	if n == nil {
		return nil
	}
	return *n
}

func durationString(d *time.Duration) any {
	if d == nil {
		return nil
	}
	return d.String()
}

func boundDuration(v any) (*time.Duration, error) {
	if v == nil {
		return nil, nil
	}
	d, err := toDuration(v)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// normalize checks a value against the parameter's type and constraints and
// returns its canonical form.
func (p *Param) normalize(v any) (any, error) {
	switch p.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok {
			return nil, wrongType("a string", v)
		}
		return s, p.matches(s)
	case TypeInt:
		n, err := toInt(v)
		if err != nil {
			return nil, err
		}
		return n, p.inIntRange(n)
	case TypeBool:
		b, ok := v.(bool)
		if !ok {
			return nil, wrongType("true or false", v)
		}
		return b, nil
	case TypeDuration:
		d, err := toDuration(v)
		if err != nil {
			return nil, err
		}
		return d.String(), p.inDurationRange(d)
	case TypeEnum:
		s, ok := v.(string)
		if !ok {
			return nil, wrongType("one of "+quoteList(p.Enum), v)
		}
		if !slices.Contains(p.Enum, s) {
			return nil, fmt.Errorf("must be one of %s, got %q", quoteList(p.Enum), s)
		}
		return s, nil
	case TypeList:
		return p.toList(v)
	case TypeMap:
		return p.toMap(v)
	case TypeRules:
		return toRules(v)
	}
	return nil, fmt.Errorf("unknown type %q", p.Type)
}

func (p *Param) matches(s string) error {
	if p.pattern != nil && !p.pattern.MatchString(s) {
		return fmt.Errorf("must match %s, got %q", p.Pattern, s)
	}
	return nil
}

func (p *Param) inIntRange(n int) error {
	switch {
	case p.minInt != nil && p.maxInt != nil && (n < *p.minInt || n > *p.maxInt):
		return fmt.Errorf("must be between %d and %d, got %d", *p.minInt, *p.maxInt, n)
	case p.minInt != nil && n < *p.minInt:
		return fmt.Errorf("must be at least %d, got %d", *p.minInt, n)
	case p.maxInt != nil && n > *p.maxInt:
		return fmt.Errorf("must be at most %d, got %d", *p.maxInt, n)
	}
	return nil
}

func (p *Param) inDurationRange(d time.Duration) error {
	switch {
	case p.minDur != nil && p.maxDur != nil && (d < *p.minDur || d > *p.maxDur):
		return fmt.Errorf("must be between %s and %s, got %s", p.minDur, p.maxDur, d)
	case p.minDur != nil && d < *p.minDur:
		return fmt.Errorf("must be at least %s, got %s", p.minDur, d)
	case p.maxDur != nil && d > *p.maxDur:
		return fmt.Errorf("must be at most %s, got %s", p.maxDur, d)
	}
	return nil
}

func (p *Param) toList(v any) ([]string, error) {
	var items []string
	switch l := v.(type) {
	case []string:
		items = slices.Clone(l)
	case []any:
		items = make([]string, len(l))
		for i, e := range l {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d: %w", i, wrongType("a string", e))
			}
			items[i] = s
		}
	default:
		return nil, wrongType("a list of strings", v)
	}
	if len(items) < p.MinItems {
		return nil, fmt.Errorf("must have at least %d element(s), got %d", p.MinItems, len(items))
	}
	for i, s := range items {
		if len(p.Enum) > 0 && !slices.Contains(p.Enum, s) {
			return nil, fmt.Errorf("element %d: must be one of %s, got %q", i, quoteList(p.Enum), s)
		}
		if err := p.matches(s); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		if first := slices.Index(items, s); first < i {
			return nil, fmt.Errorf("element %d: duplicate of element %d (%q)", i, first, s)
		}
	}
	return items, nil
}

func (p *Param) toMap(v any) (map[string]string, error) {
	out := map[string]string{}
	switch m := v.(type) {
	case map[string]string:
		for k, s := range m {
			out[k] = s
		}
	case map[string]any:
		for k, e := range m {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("key %q: %w", k, wrongType("a string", e))
			}
			out[k] = s
		}
	default:
		return nil, wrongType("an object of strings", v)
	}
	// Sorted so the first error reported does not depend on map order.
	keys := slices.Sorted(maps.Keys(out))
	for _, k := range keys {
		if p.keyPattern != nil && !p.keyPattern.MatchString(k) {
			return nil, fmt.Errorf("key %q: must match %s", k, p.KeyPattern)
		}
		if err := p.matches(out[k]); err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
	}
	return out, nil
}

// toInt accepts int, int32, int64, json.Number and integral floats (JSON
// numbers decode as float64).
func toInt(v any) (int, error) {
	switch n := v.(type) {
	case int:
		return n, nil
	case int32:
		return int(n), nil
	case int64:
		if n < math.MinInt || n > math.MaxInt {
			return 0, outOfRange(v)
		}
		return int(n), nil
	case float32:
		return floatToInt(float64(n), v)
	case float64:
		return floatToInt(n, v)
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return toInt(i)
		}
		if f, err := n.Float64(); err == nil {
			return floatToInt(f, v)
		}
	}
	return 0, wrongType("an integer", v)
}

func floatToInt(f float64, v any) (int, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) {
		return 0, fmt.Errorf("must be an integer, got %v", v)
	}
	// 2^53 bounds the integers a float64 (a JSON number) holds exactly.
	if math.Abs(f) > 1<<53 {
		return 0, outOfRange(v)
	}
	return int(f), nil
}

func outOfRange(v any) error {
	return fmt.Errorf("must be an integer within range, got %v", v)
}

func toDuration(v any) (time.Duration, error) {
	switch d := v.(type) {
	case time.Duration:
		return d, nil
	case string:
		parsed, err := time.ParseDuration(d)
		if err != nil {
			return 0, fmt.Errorf(`must be a duration such as "30s" or "1m30s", got %q`, d)
		}
		return parsed, nil
	case float64, float32, int, int64, int32, json.Number:
		return 0, fmt.Errorf(`must be a duration string with a unit, such as "30s", got the number %v`, d)
	}
	return 0, wrongType(`a duration such as "30s"`, v)
}

func wrongType(want string, got any) error {
	if got == nil {
		return fmt.Errorf("must be %s, got null", want)
	}
	return fmt.Errorf("must be %s, got %s %s", want, kindOf(got), short(got))
}

// kindOf names a value's type in JSON terms, which is how API users send them.
func kindOf(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, float32, int, int32, int64, json.Number:
		return "number"
	case []any, []string:
		return "list"
	case map[string]any, map[string]string:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func short(v any) string {
	var s string
	if str, ok := v.(string); ok {
		s = fmt.Sprintf("%q", str)
	} else {
		s = fmt.Sprintf("%v", v)
	}
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return s
}

func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
