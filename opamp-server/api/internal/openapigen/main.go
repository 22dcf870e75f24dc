// Command openapigen writes the schemas of the control plane's OpenAPI
// document from the Go types the server and its clients share
// (opamp-server/apitypes), so the document cannot drift from the wire
// contract. opamp-server/api runs it with go generate:
//
//	go run ./internal/openapigen -doc openapi.json -src ../apitypes
//
// It replaces components.schemas and leaves everything else of the
// document (paths, responses, security) as written. Each schema is named
// after its Go type; field names, required fields (those without omitempty)
// and enumerations (a string type's typed constants) come from the types,
// descriptions from their doc comments.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("openapigen", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	docPath := fs.String("doc", "openapi.json", "OpenAPI document to update in place")
	src := fs.String("src", "../apitypes", "directory of the apitypes package, for doc comments and enumerations")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w (usage: openapigen [-doc openapi.json] [-src ../apitypes])", err)
	}
	raw, err := os.ReadFile(*docPath)
	if err != nil {
		return err
	}
	comments, err := readComments(*src)
	if err != nil {
		return err
	}
	out, err := regenerate(raw, comments)
	if err != nil {
		return fmt.Errorf("%s: %w", *docPath, err)
	}
	if bytes.Equal(out, raw) {
		return nil
	}
	return os.WriteFile(*docPath, out, 0o644)
}

// document is an OpenAPI document with its parts in the order they are
// written; only the schemas are generated.
type document struct {
	OpenAPI    json.RawMessage `json:"openapi"`
	Info       json.RawMessage `json:"info"`
	Servers    json.RawMessage `json:"servers"`
	Security   json.RawMessage `json:"security,omitempty"`
	Paths      json.RawMessage `json:"paths"`
	Components struct {
		SecuritySchemes json.RawMessage `json:"securitySchemes,omitempty"`
		Responses       json.RawMessage `json:"responses,omitempty"`
		Schemas         json.RawMessage `json:"schemas"`
	} `json:"components"`
}

// regenerate returns the document with its schemas generated.
func regenerate(raw []byte, comments *comments) ([]byte, error) {
	var doc document
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("reading the document (a new top-level section needs a field in openapigen's document type): %w", err)
	}
	g := newGenerator(comments)
	if err := g.addRoots(); err != nil {
		return nil, err
	}
	schemas, err := g.marshal()
	if err != nil {
		return nil, err
	}
	doc.Components.Schemas = schemas
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
