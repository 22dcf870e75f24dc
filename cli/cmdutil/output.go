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
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	default:
		return fmt.Errorf("format %q is not structured", f)
	}
}
