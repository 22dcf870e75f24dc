package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// document is the part of an OpenAPI 3.0 document the reference shows.
// Unknown fields are ignored, so an addition to openapi.json never breaks
// generation; a construct the renderer cannot show (an unresolvable or
// remote $ref, a path-level $ref) is an error, so it is never silently left
// out either.
type document struct {
	OpenAPI    string                `json:"openapi"`
	Info       info                  `json:"info"`
	Servers    []server              `json:"servers"`
	Security   []map[string][]string `json:"security"`
	Paths      map[string]pathItem   `json:"paths"`
	Components components            `json:"components"`
}

type info struct {
	Title       string `json:"title"`
	Version     string `json:"version"`
	Description string `json:"description"`
}

type server struct {
	URL string `json:"url"`
}

type components struct {
	SecuritySchemes map[string]securityScheme `json:"securitySchemes"`
	Responses       map[string]*response      `json:"responses"`
	Parameters      map[string]*parameter     `json:"parameters"`
	RequestBodies   map[string]*requestBody   `json:"requestBodies"`
	Schemas         map[string]*schema        `json:"schemas"`
}

type securityScheme struct {
	Type         string `json:"type"`
	Scheme       string `json:"scheme"`
	BearerFormat string `json:"bearerFormat"`
	In           string `json:"in"`
	Name         string `json:"name"`
	Description  string `json:"description"`
}

// methods are the operation keys of a path item, in the order the
// reference lists them.
var methods = []string{"get", "put", "post", "patch", "delete", "head", "options", "trace"}

// pathItem holds a path's operations by lower-case method and the
// parameters they share.
type pathItem struct {
	Parameters []*parameter
	Operations map[string]*operation
}

func (p *pathItem) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	p.Operations = map[string]*operation{}
	for key, val := range raw {
		switch {
		case slices.Contains(methods, key):
			var op operation
			if err := json.Unmarshal(val, &op); err != nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			p.Operations[key] = &op
		case key == "parameters":
			if err := json.Unmarshal(val, &p.Parameters); err != nil {
				return fmt.Errorf("parameters: %w", err)
			}
		case key == "$ref":
			return fmt.Errorf("path item $ref is not supported: write the operations in place")
		}
	}
	return nil
}

type operation struct {
	Summary     string                `json:"summary"`
	Description string                `json:"description"`
	OperationID string                `json:"operationId"`
	Tags        []string              `json:"tags"`
	Deprecated  bool                  `json:"deprecated"`
	Parameters  []*parameter          `json:"parameters"`
	RequestBody *requestBody          `json:"requestBody"`
	Responses   map[string]*response  `json:"responses"`
	Security    []map[string][]string `json:"security"`
	// Permission is the x-permission extension: the permission a caller's
	// roles must grant.
	Permission string `json:"x-permission"`
	// hasSecurity tells an empty security list (no authentication) from an
	// absent one (the document's default).
	hasSecurity bool
}

func (o *operation) UnmarshalJSON(b []byte) error {
	type plain operation
	if err := json.Unmarshal(b, (*plain)(o)); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(b, &keys); err != nil {
		return err
	}
	_, o.hasSecurity = keys["security"]
	return nil
}

type parameter struct {
	Ref         string  `json:"$ref"`
	Name        string  `json:"name"`
	In          string  `json:"in"`
	Description string  `json:"description"`
	Required    bool    `json:"required"`
	Deprecated  bool    `json:"deprecated"`
	Schema      *schema `json:"schema"`
}

type requestBody struct {
	Ref         string                `json:"$ref"`
	Description string                `json:"description"`
	Required    bool                  `json:"required"`
	Content     map[string]*mediaType `json:"content"`
}

type response struct {
	Ref         string                `json:"$ref"`
	Description string                `json:"description"`
	Content     map[string]*mediaType `json:"content"`
}

type mediaType struct {
	Schema *schema `json:"schema"`
}

type schema struct {
	Ref                  string             `json:"$ref"`
	Type                 string             `json:"type"`
	Format               string             `json:"format"`
	Description          string             `json:"description"`
	Enum                 []any              `json:"enum"`
	Default              any                `json:"default"`
	Example              any                `json:"example"`
	Required             []string           `json:"required"`
	Properties           map[string]*schema `json:"properties"`
	Items                *schema            `json:"items"`
	AdditionalProperties *additional        `json:"additionalProperties"`
	AllOf                []*schema          `json:"allOf"`
	OneOf                []*schema          `json:"oneOf"`
	AnyOf                []*schema          `json:"anyOf"`
	Minimum              *float64           `json:"minimum"`
	Maximum              *float64           `json:"maximum"`
	MinItems             *int               `json:"minItems"`
	MaxItems             *int               `json:"maxItems"`
	Pattern              string             `json:"pattern"`
	Nullable             bool               `json:"nullable"`
	ReadOnly             bool               `json:"readOnly"`
	WriteOnly            bool               `json:"writeOnly"`
}

// additional is additionalProperties: true, false or a schema.
type additional struct {
	Allowed bool
	Schema  *schema
}

func (a *additional) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &a.Allowed); err == nil {
		return nil
	}
	a.Allowed = true
	return json.Unmarshal(b, &a.Schema)
}

// parse decodes a document and checks every local reference resolves.
func parse(raw []byte) (*document, error) {
	var doc document
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("reading the OpenAPI document: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, fmt.Errorf("openapi: version %q is not 3.x", doc.OpenAPI)
	}
	if len(doc.Paths) == 0 {
		return nil, fmt.Errorf("paths: the document has none")
	}
	if err := doc.checkRefs(); err != nil {
		return nil, err
	}
	return &doc, nil
}

// refName returns the component a local reference names, checking its
// section ("#/components/<section>/<name>").
func refName(ref, section string) (string, error) {
	name, ok := strings.CutPrefix(ref, "#/components/"+section+"/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("$ref %q: want #/components/%s/<name>", ref, section)
	}
	return name, nil
}

func (d *document) schemaRef(ref string) (string, error) {
	name, err := refName(ref, "schemas")
	if err != nil {
		return "", err
	}
	if _, ok := d.Components.Schemas[name]; !ok {
		return "", fmt.Errorf("$ref %q: no such schema", ref)
	}
	return name, nil
}

// response resolves a response, returning the component name it came
// from ("" when written in place).
func (d *document) response(r *response) (*response, string, error) {
	if r.Ref == "" {
		return r, "", nil
	}
	name, err := refName(r.Ref, "responses")
	if err != nil {
		return nil, "", err
	}
	resolved, ok := d.Components.Responses[name]
	if !ok || resolved.Ref != "" {
		return nil, "", fmt.Errorf("$ref %q: no such response (or a reference to a reference)", r.Ref)
	}
	return resolved, name, nil
}

func (d *document) parameter(p *parameter) (*parameter, error) {
	if p.Ref == "" {
		return p, nil
	}
	name, err := refName(p.Ref, "parameters")
	if err != nil {
		return nil, err
	}
	resolved, ok := d.Components.Parameters[name]
	if !ok || resolved.Ref != "" {
		return nil, fmt.Errorf("$ref %q: no such parameter (or a reference to a reference)", p.Ref)
	}
	return resolved, nil
}

func (d *document) requestBody(b *requestBody) (*requestBody, error) {
	if b.Ref == "" {
		return b, nil
	}
	name, err := refName(b.Ref, "requestBodies")
	if err != nil {
		return nil, err
	}
	resolved, ok := d.Components.RequestBodies[name]
	if !ok || resolved.Ref != "" {
		return nil, fmt.Errorf("$ref %q: no such request body (or a reference to a reference)", b.Ref)
	}
	return resolved, nil
}

// checkRefs resolves every reference once, so rendering never meets a
// dangling one and errors name where the reference is.
func (d *document) checkRefs() error {
	var errs []string
	check := func(where string, err error) {
		if err != nil {
			errs = append(errs, where+": "+err.Error())
		}
	}
	var walk func(where string, s *schema)
	walk = func(where string, s *schema) {
		if s == nil {
			return
		}
		if s.Ref != "" {
			_, err := d.schemaRef(s.Ref)
			check(where, err)
		}
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			walk(where+"."+name, s.Properties[name])
		}
		walk(where+"[]", s.Items)
		if s.AdditionalProperties != nil {
			walk(where+"{}", s.AdditionalProperties.Schema)
		}
		for i, sub := range slices.Concat(s.AllOf, s.OneOf, s.AnyOf) {
			walk(fmt.Sprintf("%s(%d)", where, i), sub)
		}
	}
	content := func(where string, c map[string]*mediaType) {
		for _, ct := range slices.Sorted(maps.Keys(c)) {
			if c[ct] != nil {
				walk(where+" "+ct, c[ct].Schema)
			}
		}
	}
	params := func(where string, ps []*parameter) {
		for _, p := range ps {
			resolved, err := d.parameter(p)
			check(where+" parameter", err)
			if err == nil {
				walk(where+" parameter "+resolved.Name, resolved.Schema)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(d.Components.Schemas)) {
		walk("components.schemas."+name, d.Components.Schemas[name])
	}
	for _, name := range slices.Sorted(maps.Keys(d.Components.Responses)) {
		content("components.responses."+name, d.Components.Responses[name].Content)
	}
	for _, req := range d.Security {
		for scheme := range req {
			if _, ok := d.Components.SecuritySchemes[scheme]; !ok {
				errs = append(errs, "security: scheme "+scheme+" is not defined")
			}
		}
	}
	for _, path := range slices.Sorted(maps.Keys(d.Paths)) {
		item := d.Paths[path]
		params(path, item.Parameters)
		for _, m := range methods {
			op, ok := item.Operations[m]
			if !ok {
				continue
			}
			where := strings.ToUpper(m) + " " + path
			params(where, op.Parameters)
			if op.RequestBody != nil {
				body, err := d.requestBody(op.RequestBody)
				check(where+" requestBody", err)
				if err == nil {
					content(where+" requestBody", body.Content)
				}
			}
			for _, code := range slices.Sorted(maps.Keys(op.Responses)) {
				r, _, err := d.response(op.Responses[code])
				check(where+" response "+code, err)
				if err == nil {
					content(where+" response "+code, r.Content)
				}
			}
			for _, req := range op.Security {
				for scheme := range req {
					if _, ok := d.Components.SecuritySchemes[scheme]; !ok {
						errs = append(errs, where+": security scheme "+scheme+" is not defined")
					}
				}
			}
		}
	}
	if len(errs) > 0 {
		slices.Sort(errs)
		return fmt.Errorf("unresolved references:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}
