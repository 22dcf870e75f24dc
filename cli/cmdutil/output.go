package cmdutil // import "github.com/phoenix/platform/cli/cmdutil"

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// Format is an output format selected with -o.
type Format string

// Output formats every listing command accepts.
const (
	FormatTable Format = "table"
	FormatJSON  Format = "json"
	FormatYAML  Format = "yaml"
)

// String implements pflag.Value.
func (f *Format) String() string { return string(*f) }

// Set implements pflag.Value, rejecting unknown formats with the valid ones.
func (f *Format) Set(v string) error {
	switch Format(v) {
	case FormatTable, FormatJSON, FormatYAML:
		*f = Format(v)
		return nil
	default:
		return fmt.Errorf("unknown output format %q (valid: table, json, yaml)", v)
	}
}

// Type implements pflag.Value.
func (f *Format) Type() string { return "format" }

// AddFormatFlag registers -o/--output on cmd, defaulting to table.
func AddFormatFlag(cmd *cobra.Command, f *Format) {
	*f = FormatTable
	cmd.Flags().VarP(f, "output", "o", "output format: table, json or yaml")
}

// WriteStructured writes v as JSON or YAML; it is an error for the table format,
// which each command renders itself.
func WriteStructured(w io.Writer, f Format, v any) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	case FormatYAML:
		doc, err := jsonShaped(v)
		if err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(doc); err != nil {
			return err
		}
		return enc.Close()
	default:
		return fmt.Errorf("format %q is not structured", f)
	}
}

// jsonShaped returns v as a YAML document with exactly v's JSON form: the
// same field names, omitted fields and nesting, in the same order. Encoding v
// directly would use yaml tags most API types lack (lower-cased Go names,
// embedded structs nested, omitempty ignored, json.RawMessage as bytes).
func jsonShaped(v any) (*yaml.Node, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil { // JSON is YAML
		return nil, err
	}
	blockStyle(&doc)
	return &doc, nil
}

// blockStyle drops the JSON flow style and quoting: the encoder then writes
// block YAML, quoting only strings that would otherwise read as another type.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}

// Or returns s as a string, or def when s is empty: table cells show "-"
// rather than nothing.
func Or[S ~string](s S, def string) string {
	if s == "" {
		return def
	}
	return string(s)
}
