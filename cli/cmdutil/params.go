package cmdutil // import "github.com/phoenix/platform/cli/cmdutil"

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ParseParams turns repeated --param key=value flags, and an optional YAML or
// JSON file of parameters, into a parameter map. Values are read as YAML
// scalars or flow collections: "10" is a number, "true" a boolean, "[cpu,
// memory]" a list; quote to force a string. Flags override the file.
func ParseParams(flags []string, file string) (map[string]any, error) {
	params := map[string]any{}
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("parameters file: %w", err)
		}
		if err := yaml.Unmarshal(raw, &params); err != nil {
			return nil, fmt.Errorf("parameters file %s: %w", file, err)
		}
		if params == nil { // the file held null
			params = map[string]any{}
		}
	}
	for _, f := range flags {
		key, value, ok := strings.Cut(f, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return nil, fmt.Errorf("--param %q: want key=value", f)
		}
		var v any
		if err := yaml.Unmarshal([]byte(value), &v); err != nil {
			return nil, fmt.Errorf("--param %s: %w", key, err)
		}
		if v == nil {
			v = value
		}
		params[key] = v
	}
	return params, nil
}
