package profiles // import "github.com/phoenix/platform/receivers/processsim/profiles"

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// Names of the shipped profiles.
const (
	Realistic       = "realistic"
	HighCardinality = "high-cardinality"
	HighChurn       = "high-churn"
	// Custom is the profile whose values callers set with Params.
	Custom = "custom"
)

// ErrUnknownProfile is returned by Get for a name no shipped profile has.
var ErrUnknownProfile = errors.New("unknown profile")

//go:embed *.yaml
var files embed.FS

// builtin parses the embedded profiles once; tests guarantee they are valid.
var builtin = sync.OnceValues(func() ([]Profile, error) { return Load(files) })

// Load reads every *.yaml profile at the top of fsys, sorted by name. Each
// profile's name must match its file name.
func Load(fsys fs.FS) ([]Profile, error) {
	paths, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	out := make([]Profile, 0, len(paths))
	for _, file := range paths {
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		p, err := Parse(data)
		if err != nil {
			return nil, fmt.Errorf("profile %s: %w", file, err)
		}
		if want := strings.TrimSuffix(path.Base(file), ".yaml"); p.Name != want {
			return nil, fmt.Errorf("profile %s: name: must match the file name %q, got %q", file, want, p.Name)
		}
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// All returns copies of the shipped profiles, sorted by name.
func All() ([]Profile, error) {
	all, err := builtin()
	out := make([]Profile, len(all))
	for i, p := range all {
		out[i] = p.clone()
	}
	return out, err
}

// clone copies the profile, so callers cannot change the shipped one.
func (p Profile) clone() Profile {
	p.CriticalNames = slices.Clone(p.CriticalNames)
	return p
}

// Names returns the shipped profiles' names, sorted.
func Names() []string {
	all, _ := builtin()
	names := make([]string, len(all))
	for i, p := range all {
		names[i] = p.Name
	}
	return names
}

// Get returns the shipped profile called name.
func Get(name string) (Profile, error) {
	all, err := builtin()
	if err != nil {
		return Profile{}, err
	}
	for _, p := range all {
		if p.Name == name {
			return p.clone(), nil
		}
	}
	return Profile{}, fmt.Errorf("%w %q (valid: %s)", ErrUnknownProfile, name, strings.Join(Names(), ", "))
}
