// Package hostaccess finds what in a collector configuration reaches into
// the host that runs it, beyond collecting its metrics: the references the
// collector resolves there when it loads the configuration (${env:NAME},
// ${file:PATH}, ${http(s)://URL}) and the components and settings that read
// or write the host's files. The control plane runs none of them (validation
// replaces every reference by a placeholder, see distribution.ValidateYAML);
// it uses this package to decide who may assign such a configuration to
// agents (docs/security.md).
//
// It reads YAML only and links none of the collector's components, so the
// assignment service can use it without linking the distribution.
package hostaccess // import "github.com/phoenix/platform/pipelines/distribution/hostaccess"

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind is how a configuration reaches into its host.
type Kind string

// Kinds of access.
const (
	// KindEnv reads an environment variable of the collector (${env:NAME},
	// or ${NAME}: env is the default scheme).
	KindEnv Kind = "env"
	// KindFile reads a file (${file:PATH}).
	KindFile Kind = "file"
	// KindURL fetches a URL from the host (${http://…}, ${https://…}): on a
	// cloud VM that includes its metadata service and credentials.
	KindURL Kind = "url"
	// KindReference is a reference of any other scheme, resolved by the
	// collector on the host (the distribution supports none; listed so a
	// new provider is never silently allowed).
	KindReference Kind = "reference"
	// KindHostFiles is a component or setting that reads or writes files on
	// the host (the file exporter, the file_storage extension, the collector's
	// log files, …).
	KindHostFiles Kind = "host_files"
)

// Access is one way a configuration reaches into the host that runs it.
type Access struct {
	// Path is where it is in the configuration, in the collector's
	// "a::b::c" notation (list elements by index).
	Path string
	Kind Kind
	// Name is the environment variable (empty when the name is itself
	// built from another reference), the file path or URL, or the
	// component ID or setting.
	Name string
	// Ref is the reference as written, e.g. "${env:NAME}"; empty for
	// components and settings.
	Ref string
}

// What names the access as a person reads it: the reference, or the
// component or setting.
func (a Access) What() string {
	if a.Ref != "" {
		return a.Ref
	}
	return a.Name
}

// Reason says what the access does on the host.
func (a Access) Reason() string {
	switch a.Kind {
	case KindEnv:
		if a.Name == "" {
			return "reads an environment variable whose name is itself a reference"
		}
		return "reads environment variable " + a.Name
	case KindFile:
		return "reads file " + a.Name
	case KindURL:
		return "fetches " + a.Name + " from the host"
	case KindReference:
		return "is resolved by the collector on the host"
	case KindHostFiles:
		return hostFileReason(a.Path)
	}
	return "reaches into the host"
}

// String is "What at Path: Reason".
func (a Access) String() string {
	return a.What() + " at " + a.Path + ": " + a.Reason()
}

// Find lists every access in a configuration, sorted by path (list
// elements in order; several references in one string innermost first). It over-approximates the collector: a
// reference the collector would leave alone in some corner of its syntax
// (after an escaped one in the same string, in a map key) is still listed.
// A configuration that is not YAML is an error.
func Find(config []byte) ([]Access, error) {
	var root any
	if err := yaml.Unmarshal(config, &root); err != nil {
		return nil, fmt.Errorf("reading the configuration: %w", err)
	}
	var out []Access
	walk(root, nil, func(path []string, s string) {
		out = append(out, references(strings.Join(path, "::"), s)...)
	})
	out = append(out, components(root)...)
	slices.SortStableFunc(out, func(a, b Access) int { return comparePaths(a.Path, b.Path) })
	return out, nil
}

// comparePaths orders paths part by part, list indexes as numbers.
func comparePaths(a, b string) int {
	pa, pb := strings.Split(a, "::"), strings.Split(b, "::")
	for i := 0; i < len(pa) && i < len(pb); i++ {
		na, errA := strconv.Atoi(pa[i])
		nb, errB := strconv.Atoi(pb[i])
		var c int
		if errA == nil && errB == nil {
			c = na - nb
		} else {
			c = strings.Compare(pa[i], pb[i])
		}
		if c != 0 {
			return c
		}
	}
	return len(pa) - len(pb)
}

// walk calls visit for every string of v, keys included, with its path.
func walk(v any, path []string, visit func([]string, string)) {
	switch x := v.(type) {
	case string:
		visit(path, x)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			p := append(slices.Clone(path), k)
			visit(p, k)
			walk(x[k], p, visit)
		}
	case map[any]any:
		keys := make([]string, 0, len(x))
		byKey := make(map[string]any, len(x))
		for k, val := range x {
			ks := fmt.Sprint(k)
			keys = append(keys, ks)
			byKey[ks] = val
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := append(slices.Clone(path), k)
			visit(p, k)
			walk(byKey[k], p, visit)
		}
	case []any:
		for i, e := range x {
			walk(e, append(slices.Clone(path), strconv.Itoa(i)), visit)
		}
	}
}

// Reference is one ${...} in a string.
type Reference struct {
	// Text is the reference as written, inner references included.
	Text string
	// Scheme is its scheme; env when it has none (the collector's default
	// scheme).
	Scheme string
	// Value is what follows the scheme: a variable name (with any ":-"
	// default), a path, or the rest of a URL.
	Value string
	// Nested is set when Value is itself built from another reference.
	Nested bool
}

// References lists the ${...} references of one string, innermost first,
// as the collector expands them: each inner reference of a nested one
// ("${env:${env:WHICH}}") before the reference around it. "$${...}" is an
// escaped, literal "${...}" and is not listed.
func References(s string) []Reference {
	var out []Reference
	// w is s with each reference found so far replaced by a marker,
	// "\x00<index>\x01", so the reference around it is found next.
	w, p := s, 0
	for p < len(w) {
		c := strings.IndexByte(w[p:], '}')
		if c < 0 {
			break
		}
		c += p
		o := strings.LastIndex(w[:c], "${")
		if o < 0 || escaped(w, o) {
			p = c + 1
			continue
		}
		body := w[o+2 : c]
		ref := Reference{Text: restore(w[o:c+1], out), Nested: strings.Contains(body, "\x00")}
		if scheme, value, ok := strings.Cut(body, ":"); ok {
			ref.Scheme, ref.Value = scheme, restore(value, out)
		} else {
			ref.Scheme, ref.Value = "env", restore(body, out)
		}
		place := "\x00" + strconv.Itoa(len(out)) + "\x01"
		out = append(out, ref)
		w = w[:o] + place + w[c+1:]
		p = o
	}
	return out
}

// escaped reports whether the "${" at o is preceded by an odd number of
// "$": "$${" is a literal "${".
func escaped(s string, o int) bool {
	n := 0
	for i := o - 1; i >= 0 && s[i] == '$'; i-- {
		n++
	}
	return n%2 == 1
}

// marker is an inner reference's place in a string being scanned.
var marker = regexp.MustCompile(`\x00([0-9]+)\x01`)

// restore puts the text of the inner references found so far back in place
// of their markers.
func restore(s string, found []Reference) string {
	if !strings.Contains(s, "\x00") {
		return s
	}
	return marker.ReplaceAllStringFunc(s, func(m string) string {
		i, _ := strconv.Atoi(m[1 : len(m)-1])
		return found[i].Text
	})
}

// references turns the references of one string into accesses.
func references(path, s string) []Access {
	if !strings.Contains(s, "${") {
		return nil
	}
	var out []Access
	for _, r := range References(s) {
		a := Access{Path: path, Ref: r.Text}
		switch {
		case r.Scheme == "env":
			a.Kind = KindEnv
			name, _, _ := strings.Cut(r.Value, ":-")
			if !r.Nested && EnvName.MatchString(name) {
				a.Name = name
			}
		case r.Scheme == "file":
			a.Kind, a.Name = KindFile, r.Value
		case r.Scheme == "http" || r.Scheme == "https":
			a.Kind, a.Name = KindURL, r.Scheme+":"+r.Value
		case r.Scheme == "yaml":
			// Inline YAML: it reads nothing (its own references, if
			// any, are listed on their own).
			continue
		default:
			a.Kind, a.Name = KindReference, r.Scheme
		}
		out = append(out, a)
	}
	return out
}

// EnvName is what the collector accepts as an environment variable name.
var EnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// hostFileComponents are the component types, by kind, that read or write
// files of the host they run on, with what they do. Types not in the
// distribution are listed too: the distribution refuses them today, and
// adding one to builder-config.yaml must not make it assignable by anyone
// who may configure agents.
var hostFileComponents = map[string]map[string]string{
	"receivers": {
		"filelog":        "reads files on the host",
		"file_log":       "reads files on the host",
		"journald":       "reads the host's system journal",
		"otlpjsonfile":   "reads files on the host",
		"otlp_json_file": "reads files on the host",
	},
	"exporters": {
		"file": "writes files on the host",
	},
	"extensions": {
		"file_storage": "writes files on the host",
		"filestorage":  "writes files on the host",
	},
}

// logPaths are the service::telemetry::logs settings that name files the
// collector writes its own log to; "stdout" and "stderr" are not files.
var logPaths = []string{"output_paths", "error_output_paths"}

// components lists the host-file components and log file settings.
func components(root any) []Access {
	top, ok := root.(map[string]any)
	if !ok {
		return nil
	}
	var out []Access
	for _, kind := range slices.Sorted(maps.Keys(hostFileComponents)) {
		section, _ := top[kind].(map[string]any)
		for _, id := range slices.Sorted(maps.Keys(section)) {
			typ, _, _ := strings.Cut(id, "/")
			if _, ok := hostFileComponents[kind][typ]; ok {
				out = append(out, Access{Path: kind + "::" + id, Kind: KindHostFiles, Name: kind + "::" + id})
			}
		}
	}
	service, _ := top["service"].(map[string]any)
	telemetry, _ := service["telemetry"].(map[string]any)
	logs, _ := telemetry["logs"].(map[string]any)
	for _, key := range logPaths {
		paths, _ := logs[key].([]any)
		for i, p := range paths {
			s, _ := p.(string)
			if s == "stdout" || s == "stderr" {
				continue
			}
			path := "service::telemetry::logs::" + key + "::" + strconv.Itoa(i)
			out = append(out, Access{Path: path, Kind: KindHostFiles, Name: path})
		}
	}
	return out
}

// hostFileReason says what the component or setting at path does.
func hostFileReason(path string) string {
	parts := strings.Split(path, "::")
	if len(parts) == 2 {
		typ, _, _ := strings.Cut(parts[1], "/")
		if r, ok := hostFileComponents[parts[0]][typ]; ok {
			return r
		}
	}
	if strings.HasPrefix(path, "service::telemetry::logs::") {
		return "writes the collector's log to a file on the host"
	}
	return "reads or writes files on the host"
}
