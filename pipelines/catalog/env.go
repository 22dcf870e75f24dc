package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"maps"
	"slices"
)

// EnvUse is an environment variable a parameter names (Param.EnvVar): the
// collector reads it on its host and sends it where the configuration sends
// data.
type EnvUse struct {
	Param string
	// Key is the map key whose value names the variable (a header name),
	// for a map parameter.
	Key  string
	Name string
}

// EnvUses lists, by parameter then key, the environment variables the
// env_var parameters among params name. params are given values or
// canonical ones (Rendered.Params, Paired.Shared); a value the parameter
// refuses is left out, since rendering refuses it. An unknown pipeline
// names none.
func (c *Catalog) EnvUses(pipelineName string, params map[string]any) []EnvUse {
	p, err := c.lookup(pipelineName)
	if err != nil {
		return nil
	}
	var out []EnvUse
	for _, name := range slices.Sorted(maps.Keys(params)) {
		spec := p.params[name]
		if spec == nil || !spec.EnvVar {
			continue
		}
		v, err := spec.normalize(params[name])
		if err != nil {
			continue
		}
		switch x := v.(type) {
		case string:
			if x != "" {
				out = append(out, EnvUse{Param: name, Name: x})
			}
		case map[string]string:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				out = append(out, EnvUse{Param: name, Key: k, Name: x[k]})
			}
		}
	}
	return out
}
