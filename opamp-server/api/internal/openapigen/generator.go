package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// roots are the types the paths refer to by name; every struct type they
// reach gets a schema of its own too.
var roots = []reflect.Type{
	reflect.TypeFor[apitypes.Meta](),
	reflect.TypeFor[apitypes.ErrorBody](),
	reflect.TypeFor[apitypes.AgentView](),
	reflect.TypeFor[apitypes.AgentSummary](),
	reflect.TypeFor[apitypes.Assignment](),
	reflect.TypeFor[apitypes.AssignRequest](),
	reflect.TypeFor[apitypes.BulkAssignRequest](),
	reflect.TypeFor[apitypes.AssignResult](),
	reflect.TypeFor[apitypes.AssignmentRollout](),
	reflect.TypeFor[apitypes.EnrollRequest](),
	reflect.TypeFor[apitypes.AgentCredential](),
	reflect.TypeFor[apitypes.AgentIdentity](),
	reflect.TypeFor[apitypes.Sample](),
	reflect.TypeFor[apitypes.Pipeline](),
	reflect.TypeFor[apitypes.RenderRequest](),
	reflect.TypeFor[apitypes.Rendered](),
	reflect.TypeFor[apitypes.ValidateRequest](),
	reflect.TypeFor[apitypes.Validated](),
	reflect.TypeFor[apitypes.ExperimentSpec](),
	reflect.TypeFor[apitypes.Experiment](),
	reflect.TypeFor[apitypes.PromoteRequest](),
	reflect.TypeFor[apitypes.ExperimentResults](),
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[apitypes.Duration]()
	apiPkg       = reflect.TypeFor[apitypes.Meta]().PkgPath()
)

// schema is the subset of an OpenAPI 3.0 schema object the types need,
// with properties kept in field order.
type schema struct {
	Ref                  string     `json:"$ref,omitempty"`
	Type                 string     `json:"type,omitempty"`
	Format               string     `json:"format,omitempty"`
	Description          string     `json:"description,omitempty"`
	Enum                 []string   `json:"enum,omitempty"`
	Example              any        `json:"example,omitempty"`
	Required             []string   `json:"required,omitempty"`
	Properties           properties `json:"properties,omitempty"`
	Items                *schema    `json:"items,omitempty"`
	AdditionalProperties any        `json:"additionalProperties,omitempty"`
	AllOf                []*schema  `json:"allOf,omitempty"`
}

type property struct {
	name   string
	schema *schema
}

// properties encode as an object in field order.
type properties []property

func (ps properties) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, p := range ps {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := json.Marshal(p.name)
		v, err := json.Marshal(p.schema)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

type generator struct {
	comments *comments
	schemas  map[string]*schema
}

func newGenerator(c *comments) *generator {
	return &generator{comments: c, schemas: map[string]*schema{}}
}

func (g *generator) addRoots() error {
	for _, t := range roots {
		if _, err := g.ref(t); err != nil {
			return err
		}
	}
	return nil
}

// marshal encodes the schemas sorted by name.
func (g *generator) marshal() (json.RawMessage, error) {
	names := make([]string, 0, len(g.schemas))
	for n := range g.schemas {
		names = append(names, n)
	}
	slices.Sort(names)
	ps := make(properties, len(names))
	for i, n := range names {
		ps[i] = property{n, g.schemas[n]}
	}
	return ps.MarshalJSON()
}

// ref returns a reference to the named struct type's schema, generating it
// on first use.
func (g *generator) ref(t reflect.Type) (*schema, error) {
	if t.PkgPath() != apiPkg || t.Name() == "" {
		return nil, fmt.Errorf("%s: only apitypes struct types get a schema of their own", t)
	}
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 {
		return nil, fmt.Errorf("%s: a generic type cannot be a schema", t)
	}
	if _, done := g.schemas[name]; !done {
		g.schemas[name] = nil // breaks cycles
		s := &schema{Type: "object", Description: prose(name, g.comments.types[name])}
		if err := g.fields(t, s); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		g.schemas[name] = s
	}
	return &schema{Ref: "#/components/schemas/" + name}, nil
}

// fields adds t's JSON fields to s, flattening embedded structs as
// encoding/json does.
func (g *generator) fields(t reflect.Type, s *schema) error {
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			if err := g.fields(f.Type, s); err != nil {
				return err
			}
			continue
		}
		if name == "" {
			return fmt.Errorf("field %s has no json name", f.Name)
		}
		fs, err := g.schemaOf(f.Type)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name, err)
		}
		if doc := prose(f.Name, g.comments.fields[t.Name()][f.Name]); doc != "" {
			if fs.Ref != "" {
				fs = &schema{AllOf: []*schema{fs}}
			}
			fs.Description = doc
		}
		s.Properties = append(s.Properties, property{name, fs})
		if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			s.Required = append(s.Required, name)
		}
	}
	return nil
}

// schemaOf describes a field's type.
func (g *generator) schemaOf(t reflect.Type) (*schema, error) {
	switch t {
	case timeType:
		return &schema{Type: "string", Format: "date-time"}, nil
	case durationType:
		return &schema{Type: "string", Example: "10m"}, nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.schemaOf(t.Elem())
	case reflect.Struct:
		return g.ref(t)
	case reflect.String:
		s := &schema{Type: "string"}
		if t.PkgPath() == apiPkg {
			values, ok := g.comments.enums[t.Name()]
			if !ok {
				return nil, fmt.Errorf("string type %s has no typed constants to enumerate", t.Name())
			}
			s.Enum = values
		}
		return s, nil
	case reflect.Bool:
		return &schema{Type: "boolean"}, nil
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint32, reflect.Uint64:
		return &schema{Type: "integer", Format: intFormat(t)}, nil
	case reflect.Float64:
		return &schema{Type: "number"}, nil
	case reflect.Slice:
		items, err := g.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return &schema{Type: "array", Items: items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key %s: JSON objects have string keys", t.Key())
		}
		if t.Elem().Kind() == reflect.Interface {
			return &schema{Type: "object", AdditionalProperties: true}, nil
		}
		values, err := g.schemaOf(t.Elem())
		if err != nil {
			return nil, err
		}
		return &schema{Type: "object", AdditionalProperties: values}, nil
	case reflect.Interface:
		return &schema{}, nil // any JSON value
	}
	return nil, fmt.Errorf("type %s has no JSON schema mapping", t)
}

func intFormat(t reflect.Type) string {
	if t.Size() == 8 {
		return "int64"
	}
	return "int32"
}

// prose turns a Go doc comment into an API description: "Foo is a bar" (the
// Go convention of opening with the name) reads "A bar".
func prose(goName, doc string) string {
	for _, verb := range []string{" is ", " are "} {
		if rest, ok := strings.CutPrefix(doc, goName+verb); ok && rest != "" {
			return strings.ToUpper(rest[:1]) + rest[1:]
		}
	}
	return doc
}
