package distribution // import "github.com/phoenix/platform/pipelines/distribution"

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/go-viper/mapstructure/v2"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/phoenix/platform/pipelines/distribution/hostaccess"
)

// Problem is one reason a configuration is invalid. Path is the configuration
// key it concerns, in the collector's "a::b::c" notation, when one is known.
type Problem struct {
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// InvalidConfigError lists every problem found in a configuration.
type InvalidConfigError struct {
	Problems []Problem
}

func (e *InvalidConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "invalid collector configuration:\n  " + strings.Join(lines, "\n  ")
}

// ValidateFile validates the collector configuration in a file on this
// machine, resolving its references here as the collector would: ${env:...}
// from this process's environment, ${file:...} from this filesystem. It is
// for the CLI (`phoenix collector-config validate`), whose user validates
// their own file on their own machine; a server must never call it on a
// path or configuration it was sent. Servers validate with ValidateYAML.
func ValidateFile(ctx context.Context, path string) error {
	return validate(ctx, "file:"+path, []confmap.ProviderFactory{
		fileprovider.NewFactory(), envprovider.NewFactory(), yamlprovider.NewFactory(),
	})
}

// ValidateYAML validates a collector configuration held in memory without
// resolving anything: every ${env:...}, ${file:...}, ${http(s):...}
// reference (and ${NAME}, env being the default scheme) is checked for its
// syntax and replaced by a placeholder (PlaceholderPrefix), so no value of
// this host's environment, files or network can reach a problem's message.
// A field given wholly by a reference is validated as the placeholder text
// when it is a string and as its zero value otherwise (as if the variable
// were unset); the collector resolves the reference on the agent's host
// when it loads the configuration.
func ValidateYAML(ctx context.Context, config []byte) error {
	if len(strings.TrimSpace(string(config))) == 0 {
		return &InvalidConfigError{Problems: []Problem{{Message: "configuration is empty"}}}
	}
	err := validate(ctx, "yaml:"+string(config), append(unresolvedProviders(), yamlprovider.NewFactory()))
	if invalid, ok := AsInvalid(err); ok {
		noteUnresolved(invalid, config)
	}
	return err
}

// noteUnresolved says, in each problem of a component that holds
// references, that they were not resolved: a field a component requires to
// be positive fails validation when a reference gives it, since the server
// validates it as unset.
func noteUnresolved(invalid *InvalidConfigError, config []byte) {
	accesses, err := hostaccess.Find(config)
	if err != nil {
		return
	}
	byComponent := map[string][]string{}
	for _, a := range accesses {
		if a.Ref == "" {
			continue
		}
		c := componentOf(a.Path)
		if !slices.Contains(byComponent[c], a.Ref) {
			byComponent[c] = append(byComponent[c], a.Ref)
		}
	}
	for i, p := range invalid.Problems {
		if refs := byComponent[componentOf(p.Path)]; len(refs) > 0 && p.Path != "" {
			invalid.Problems[i].Message += " (note: the server resolves no reference; " + strings.Join(refs, ", ") +
				" was validated as its placeholder text in a string field, as unset in any other)"
		}
	}
}

// componentOf is the first two parts of a configuration path, e.g.
// "processors::transform", where a component's own settings start.
func componentOf(path string) string {
	parts := strings.SplitN(path, "::", 3)
	return strings.Join(parts[:min(2, len(parts))], "::")
}

// validate resolves, unmarshals and validates a configuration with the
// distribution's factories, the same steps `phoenix-collector validate` takes,
// without starting anything, except that what depends on the agent's host's
// filesystem is checked only for what does not (hostRootConverter,
// fileStorageConverter), and what it creates is shut down again
// (validationFactories). providers resolve the configuration's URI and its
// references.
//
// validateMu serialises validations: building a host_metrics receiver, which
// validation does, writes process-wide gopsutil settings
// (EnableBootTimeCache), so two validations at once race.
var validateMu sync.Mutex

func validate(ctx context.Context, uri string, providers []confmap.ProviderFactory) error {
	validateMu.Lock()
	defer validateMu.Unlock()
	var b built
	// Shut down even when the request's context has ended: what was
	// created must be released either way.
	defer b.shutdown(context.WithoutCancel(ctx))
	col, err := otelcol.NewCollector(otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{Command: "phoenix-collector", Description: "Phoenix collector"},
		Factories: func() (otelcol.Factories, error) { return validationFactories(&b) },
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				URIs:              []string{uri},
				ProviderFactories: providers,
				ConverterFactories: []confmap.ConverterFactory{
					confmap.NewConverterFactory(hostRootConverter), confmap.NewConverterFactory(fileStorageConverter),
				},
				DefaultScheme: "env",
			},
		},
		// Validation reports through its error; the collector's own log stays quiet.
		LoggingOptions: []zap.Option{zap.WrapCore(func(zapcore.Core) zapcore.Core { return zapcore.NewNopCore() })},
	})
	if err != nil {
		return fmt.Errorf("preparing validation: %w", err)
	}
	if err := col.DryRun(ctx); err != nil {
		return &InvalidConfigError{Problems: problems(err)}
	}
	return nil
}

// problems flattens the collector's error tree into one Problem per leaf, each
// with the configuration path it concerns. Decoding errors carry the path in
// nested mapstructure errors: a field name relative to the component being
// decoded, below an "error reading configuration for <id>" boundary.
func problems(err error) []Problem {
	var out []Problem
	// outer is the outermost message since the last join or decode boundary:
	// a leaf without a path is reported with it, so context such as a file
	// name is not lost.
	var walk func(e error, base []string, field, outer string)
	walk = func(e error, base []string, field, outer string) {
		if joined, ok := e.(interface{ Unwrap() []error }); ok {
			for _, child := range joined.Unwrap() {
				walk(child, base, field, "")
			}
			return
		}
		if de, ok := e.(*mapstructure.DecodeError); ok {
			// Names are full paths within one decode: the innermost wins.
			// The top level decodes into the collector's unexported root
			// struct, whose type name is no configuration key.
			name := de.Name()
			if strings.Contains(name, "configSettings") {
				name = ""
			}
			walk(de.Unwrap(), base, keyPath(name), "")
			return
		}
		msg := e.Error()
		if outer == "" {
			outer = strings.TrimPrefix(msg, "failed to get config: ")
		}
		inner := errors.Unwrap(e)
		if m := readingFor.FindStringSubmatch(msg); m != nil && inner != nil {
			walk(inner, appendPath(base, field, m[1]), "", "")
			return
		}
		if m := pathPrefix.FindStringSubmatch(msg); m != nil {
			out = append(out, Problem{Path: joinPath(appendPath(base, field, m[1])), Message: m[2]})
			return
		}
		if inner != nil {
			walk(inner, base, field, outer)
			return
		}
		path := appendPath(base, field)
		if m := unknownID.FindStringSubmatch(msg); m != nil {
			path = append(path, m[1])
		}
		if len(path) > 0 {
			outer = msg
		}
		out = append(out, Problem{Path: joinPath(path), Message: outer})
	}
	walk(err, nil, "", "")
	return out
}

var (
	// confmap validation errors: "receivers::otlp::protocols: some message".
	pathPrefix = regexp.MustCompile(`^([A-Za-z0-9_./\-]+(?:::[A-Za-z0-9_./\-]+)+): (?s:(.*))$`)
	// the boundary between the top level and one component's configuration.
	readingFor = regexp.MustCompile(`^error reading configuration for "([^"]+)": `)
	// an unknown component type names its id.
	unknownID = regexp.MustCompile(`unknown type: "[^"]*" for id: "([^"]+)"`)
)

func appendPath(base []string, parts ...string) []string {
	out := append([]string(nil), base...)
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

func joinPath(parts []string) string { return strings.Join(parts, "::") }

// keyPath turns mapstructure's "rules[0].name" into "rules::0::name".
func keyPath(s string) string {
	s = strings.NewReplacer("[", "::", "]", "", ".", "::").Replace(s)
	return strings.Trim(s, ":")
}

// AsInvalid returns the InvalidConfigError in err's chain, if any.
func AsInvalid(err error) (*InvalidConfigError, bool) {
	var ice *InvalidConfigError
	ok := errors.As(err, &ice)
	return ice, ok
}
