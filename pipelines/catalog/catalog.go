package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/template"

	"go.yaml.in/yaml/v3"
)

//go:embed templates
var embedded embed.FS

// Pipeline is one catalog entry: its metadata and the parameters it takes.
// It is what the REST API serves.
type Pipeline struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Title   string `json:"title"`
	// Description says what the pipeline keeps and drops.
	Description string `json:"description"`
	Recommended bool   `json:"recommended"`
	// Processors are the IDs of the pipeline's own processors, in order,
	// between the shared ones (docs/pipelines.md).
	Processors []string `json:"processors"`
	// Params are the shared parameters followed by those of the pipeline's
	// processors, each with its default.
	Params []Param `json:"parameters"`
}

// Catalog is the set of shipped pipelines. It is immutable and safe for
// concurrent use.
type Catalog struct {
	frame     *frame
	pipelines map[string]*pipeline
	names     []string // sorted
	// validate checks a rendered configuration.
	validate Validator
}

// Validator checks a complete collector configuration. The server and CLI
// give distribution.ValidateYAML, which validates with the distribution's
// own factories exactly as the collector does at startup; the catalog does
// not link the collector itself.
type Validator func(ctx context.Context, config []byte) error

// pipeline is a Pipeline with what rendering needs.
type pipeline struct {
	meta   Pipeline
	params map[string]*Param
	chain  []chainStep
}

// chainStep is one processor of a pipeline's chain.
type chainStep struct {
	id   string
	tmpl *template.Template
	// with holds the values the pipeline fixes for the component's template.
	with map[string]Value
}

var loadEmbedded = sync.OnceValues(func() (*Catalog, error) {
	sub, err := fs.Sub(embedded, "templates")
	if err != nil {
		return nil, err
	}
	return load(sub)
})

// Load returns the catalog shipped in the binary, validating what it renders
// with validate. Tests guarantee it loads.
func Load(validate Validator) (*Catalog, error) {
	if validate == nil {
		return nil, errors.New("catalog: a validator is required: rendered configurations are always validated")
	}
	shared, err := loadEmbedded()
	if err != nil {
		return nil, err
	}
	c := *shared
	c.validate = validate
	return &c, nil
}

// List returns every pipeline, sorted by name.
func (c *Catalog) List() []Pipeline {
	out := make([]Pipeline, len(c.names))
	for i, name := range c.names {
		out[i] = c.pipelines[name].meta.clone()
	}
	return out
}

// Get returns the named pipeline, or an error wrapping ErrUnknownPipeline.
func (c *Catalog) Get(name string) (Pipeline, error) {
	p, err := c.lookup(name)
	if err != nil {
		return Pipeline{}, err
	}
	return p.meta.clone(), nil
}

func (c *Catalog) lookup(name string) (*pipeline, error) {
	p, ok := c.pipelines[name]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownPipeline, name, strings.Join(c.names, ", "))
	}
	return p, nil
}

// clone copies the slices and defaults a caller could otherwise change
// under the catalog.
func (p Pipeline) clone() Pipeline {
	p.Processors = slices.Clone(p.Processors)
	params := make([]Param, len(p.Params))
	for i, pr := range p.Params {
		pr.Enum = slices.Clone(pr.Enum)
		if pr.RequiredWhen != nil {
			when := make(map[string][]string, len(pr.RequiredWhen))
			for k, v := range pr.RequiredWhen {
				when[k] = slices.Clone(v)
			}
			pr.RequiredWhen = when
		}
		pr.Default = cloneValue(pr.Default)
		params[i] = pr
	}
	p.Params = params
	return p
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case []string:
		return slices.Clone(x)
	case []Rule:
		return slices.Clone(x)
	case map[string]string:
		m := make(map[string]string, len(x))
		for k, s := range x {
			m[k] = s
		}
		return m
	}
	return v
}

// File formats. docs/pipelines.md describes them.
type (
	pipelineFile struct {
		Name        string         `yaml:"name"`
		Version     string         `yaml:"version"`
		Title       string         `yaml:"title"`
		Description string         `yaml:"description"`
		Recommended bool           `yaml:"recommended"`
		Defaults    map[string]any `yaml:"defaults"`
		Processors  []struct {
			Use  string            `yaml:"use"`
			With map[string]string `yaml:"with"`
		} `yaml:"processors"`
	}
	componentFile struct {
		Parameters []Param `yaml:"parameters"`
		Config     string  `yaml:"config"`
	}
)

var (
	versionPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	namePattern    = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// load reads the catalog: shared/collector.yaml, shared/components.yaml and
// one <name>.yaml per pipeline at the top of fsys.
func load(fsys fs.FS) (*Catalog, error) {
	fr, err := loadFrame(fsys)
	if err != nil {
		return nil, err
	}
	var components map[string]componentFile
	if err := decodeFile(fsys, "shared/components.yaml", &components); err != nil {
		return nil, err
	}
	files, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	c := &Catalog{frame: fr, pipelines: map[string]*pipeline{}}
	for _, file := range files {
		p, err := loadPipeline(fsys, file, fr, components)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		c.pipelines[p.meta.Name] = p
		c.names = append(c.names, p.meta.Name)
	}
	if len(c.names) == 0 {
		return nil, fmt.Errorf("no pipelines")
	}
	slices.Sort(c.names)
	return c, nil
}

func loadPipeline(fsys fs.FS, file string, fr *frame, components map[string]componentFile) (*pipeline, error) {
	var f pipelineFile
	if err := decodeFile(fsys, file, &f); err != nil {
		return nil, err
	}
	switch {
	case f.Name != strings.TrimSuffix(path.Base(file), ".yaml"):
		return nil, fmt.Errorf("name %q must match the file name", f.Name)
	case !namePattern.MatchString(f.Name):
		return nil, fmt.Errorf("name %q must match %s", f.Name, namePattern)
	case !versionPattern.MatchString(f.Version):
		return nil, fmt.Errorf("version %q must be MAJOR.MINOR.PATCH", f.Version)
	case f.Title == "" || f.Description == "":
		return nil, fmt.Errorf("title and description are required")
	}
	p := &pipeline{
		meta: Pipeline{
			Name: f.Name, Version: f.Version, Title: f.Title, Description: strings.TrimSpace(f.Description),
			Recommended: f.Recommended, Processors: []string{},
		},
		params: map[string]*Param{},
	}
	specs := slices.Clone(fr.params)
	for _, use := range f.Processors {
		cf, ok := components[use.Use]
		if !ok {
			return nil, fmt.Errorf("processors: unknown component %q", use.Use)
		}
		if slices.Contains(p.meta.Processors, use.Use) {
			return nil, fmt.Errorf("processors: %q used twice", use.Use)
		}
		tmpl, err := parseTemplate(use.Use, cf.Config)
		if err != nil {
			return nil, err
		}
		with := make(map[string]Value, len(use.With))
		for k, v := range use.With {
			with[k] = Value{v: v}
		}
		p.chain = append(p.chain, chainStep{id: use.Use, tmpl: tmpl, with: with})
		p.meta.Processors = append(p.meta.Processors, use.Use)
		for _, spec := range cf.Parameters {
			spec.Scope = ScopeVariant
			if err := spec.compile(); err != nil {
				return nil, fmt.Errorf("component %s: %w", use.Use, err)
			}
			specs = append(specs, spec)
		}
	}
	p.meta.Params = specs
	for i := range p.meta.Params {
		spec := &p.meta.Params[i]
		if _, dup := p.params[spec.Name]; dup {
			return nil, fmt.Errorf("parameter %q defined twice", spec.Name)
		}
		if def, ok := f.Defaults[spec.Name]; ok {
			if err := spec.setDefault(def); err != nil {
				return nil, err
			}
		}
		p.params[spec.Name] = spec
	}
	for name := range f.Defaults {
		if p.params[name] == nil {
			return nil, fmt.Errorf("defaults: unknown parameter %q", name)
		}
	}
	for _, c := range p.chain {
		for k := range c.with {
			if p.params[k] != nil {
				return nil, fmt.Errorf("component %s: with: %q is a parameter", c.id, k)
			}
		}
	}
	return p, checkConditions(p.meta.Params, p.params)
}

// checkConditions makes sure every required_when names an enum parameter
// and values it can take.
func checkConditions(specs []Param, byName map[string]*Param) error {
	for _, spec := range specs {
		for name, values := range spec.RequiredWhen {
			other := byName[name]
			if other == nil || other.Type != TypeEnum || other.Scope != spec.Scope {
				return fmt.Errorf("parameter %q: required_when: %q is not an enum parameter of the same scope", spec.Name, name)
			}
			for _, v := range values {
				if !slices.Contains(other.Enum, v) {
					return fmt.Errorf("parameter %q: required_when: %q is not a value of %q", spec.Name, v, name)
				}
			}
		}
	}
	return nil
}

func decodeFile(fsys fs.FS, name string, out any) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// parseTemplate parses one configuration template. A missing key is an
// error, so a template naming a parameter that does not exist fails
// instead of printing nothing.
func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return t, nil
}

// Declares reports whether the named pipeline takes a parameter, and its
// scope: callers that add parameters of their own (the server's per-agent
// identity, say) add only those a pipeline declares.
func (c *Catalog) Declares(pipelineName, param string) (Scope, bool) {
	p, err := c.lookup(pipelineName)
	if err != nil {
		return "", false
	}
	spec, ok := p.params[param]
	if !ok {
		return "", false
	}
	return spec.Scope, true
}

// AgentSettable reports whether an agent's phoenix.param.NAME label may set
// the named pipeline's parameter.
func (c *Catalog) AgentSettable(pipelineName, param string) bool {
	p, err := c.lookup(pipelineName)
	if err != nil {
		return false
	}
	spec, ok := p.params[param]
	return ok && spec.AgentSettable
}
