package distribution

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/collector/confmap"

	"github.com/phoenix/platform/pipelines/distribution/hostaccess"
)

// PlaceholderPrefix starts the text ValidateYAML puts in place of every
// ${scheme:...} reference it meets. It begins with "#", which no
// environment variable, file or URL the collector resolves ever returns as
// a whole value here: "#..." is a YAML comment, so the placeholder is read
// as no value at all (see unresolvedProvider).
const PlaceholderPrefix = "#unresolved("

// placeholder is what a reference is validated as: "#unresolved(env:NAME)".
// Control characters of the reference are replaced, so the placeholder stays
// one YAML comment line.
func placeholder(uri string) string {
	return PlaceholderPrefix + strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, uri) + ")"
}

// unresolvedProviders stand in, in ValidateYAML, for every config provider
// of the phoenix-collector: OCB's defaults env, file, http and https
// (builder-config.yaml sets no providers; yaml, which reads nothing, keeps
// its own). Each checks the syntax of what it is given and returns a
// placeholder, never reading the environment, a file or the network of the
// host that validates.
func unresolvedProviders() []confmap.ProviderFactory {
	return []confmap.ProviderFactory{
		unresolvedFactory("env", checkEnvRef),
		unresolvedFactory("file", checkFileRef),
		unresolvedFactory("http", checkURLRef),
		unresolvedFactory("https", checkURLRef),
	}
}

func unresolvedFactory(scheme string, check func(uri, opaque string) error) confmap.ProviderFactory {
	return confmap.NewProviderFactory(func(confmap.ProviderSettings) confmap.Provider {
		return unresolvedProvider{scheme: scheme, check: check}
	})
}

// unresolvedProvider is a confmap provider that resolves nothing.
//
// Its placeholder is a YAML comment, so the value it retrieves has the
// placeholder as its text and no parsed value: a string field (a header, an
// OTTL statement, error_mode, an endpoint) is validated with the placeholder
// text, every other field (an int, a duration, a bool, a map) as if the
// variable were unset, with its zero value. No field can fail to decode for
// its type because a reference stands in it.
type unresolvedProvider struct {
	scheme string
	check  func(uri, opaque string) error
}

func (p unresolvedProvider) Retrieve(_ context.Context, uri string, _ confmap.WatcherFunc) (*confmap.Retrieved, error) {
	opaque, ok := strings.CutPrefix(uri, p.scheme+":")
	if !ok {
		return nil, fmt.Errorf("%q uri is not supported by %q provider", uri, p.scheme)
	}
	// A nested reference's inner one is a placeholder already.
	if !strings.Contains(opaque, PlaceholderPrefix) {
		if err := p.check(uri, opaque); err != nil {
			return nil, err
		}
	}
	return confmap.NewRetrievedFromYAML([]byte(placeholder(uri)))
}

func (p unresolvedProvider) Scheme() string { return p.scheme }

func (unresolvedProvider) Shutdown(context.Context) error { return nil }

// checkEnvRef checks "NAME" or "NAME:-default" as the env provider does.
func checkEnvRef(_, opaque string) error {
	name, _, _ := strings.Cut(opaque, ":-")
	if !hostaccess.EnvName.MatchString(name) {
		return fmt.Errorf("environment variable %q has invalid name: must match regex %s", name, hostaccess.EnvName)
	}
	return nil
}

// checkFileRef checks that a file reference names a path.
func checkFileRef(_, opaque string) error {
	if strings.TrimSpace(opaque) == "" {
		return fmt.Errorf("file reference %q names no file", "file:"+opaque)
	}
	return nil
}

// checkURLRef checks that an http or https reference is a URL with a host.
func checkURLRef(uri, _ string) error {
	u, err := url.Parse(uri)
	if err != nil {
		return fmt.Errorf("invalid URL reference: %w", err)
	}
	if u.Host == "" {
		return fmt.Errorf("URL reference %q has no host", uri)
	}
	return nil
}
