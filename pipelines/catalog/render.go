package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// Rendered is one pipeline rendered into a complete collector configuration.
type Rendered struct {
	Pipeline string
	Version  string
	// Params are the values the configuration was rendered with, defaults
	// applied, in canonical form: rendering them again gives the same Config.
	Params map[string]any
	// Config is normalised YAML, validated with the distribution's factories.
	Config []byte
	// Hash is the hex SHA-256 of Config.
	Hash string
}

// Pipeline IDs of a single render.
const (
	processPipeline = "metrics/process"
	systemPipeline  = "metrics/system"
	nopExporter     = "nop"
)

// Render renders the named pipeline with params (missing ones take their
// defaults) into a complete configuration and validates it. Invalid
// parameters give an *InvalidParamsError naming each; a configuration the
// validator refuses gives its error (distribution.ValidateYAML's wraps
// *distribution.InvalidConfigError).
func (c *Catalog) Render(ctx context.Context, name string, params map[string]any) (Rendered, error) {
	p, err := c.lookup(name)
	if err != nil {
		return Rendered{}, err
	}
	canonical, problems := p.resolve(params, "", func(*Param) string { return "" })
	if len(problems) > 0 {
		return Rendered{}, &InvalidParamsError{Problems: problems}
	}
	values := p.valuesOf(canonical)
	cfg, err := c.build(ctx, values, []arm{{p: p, values: values, pipelineID: processPipeline}})
	if err != nil {
		return Rendered{}, fmt.Errorf("pipeline %q %s: %w", p.meta.Name, p.meta.Version, err)
	}
	return Rendered{Pipeline: p.meta.Name, Version: p.meta.Version, Params: canonical, Config: cfg, Hash: hash(cfg)}, nil
}

// build assembles, normalises and validates a configuration.
func (c *Catalog) build(ctx context.Context, shared map[string]Value, arms []arm) ([]byte, error) {
	root, err := c.frame.assemble(shared, arms)
	if err != nil {
		return nil, err
	}
	cfg, err := encode(root)
	if err != nil {
		return nil, err
	}
	if err := c.validate(ctx, cfg); err != nil {
		return nil, fmt.Errorf("rendered configuration is invalid: %w", err)
	}
	return cfg, nil
}

func hash(cfg []byte) string {
	sum := sha256.Sum256(cfg)
	return hex.EncodeToString(sum[:])
}

// resolve checks given values against the pipeline's parameters, applies
// defaults and returns canonical values. refuse says why a parameter of the
// pipeline may not be given here ("" when it may); refused parameters are
// left out of the result. Problems are in parameter order, unknown names
// first.
func (p *pipeline) resolve(given map[string]any, armName string, refuse func(*Param) string) (map[string]any, []ParamError) {
	var problems []ParamError
	fail := func(name, msg string) {
		problems = append(problems, ParamError{Arm: armName, Param: name, Message: msg})
	}
	for _, name := range slices.Sorted(maps.Keys(given)) {
		spec := p.params[name]
		if spec == nil {
			fail(name, fmt.Sprintf("unknown parameter of pipeline %q", p.meta.Name))
		} else if why := refuse(spec); why != "" {
			fail(name, why)
		}
	}
	out := map[string]any{}
	for i := range p.meta.Params {
		spec := &p.meta.Params[i]
		if refuse(spec) != "" {
			continue
		}
		v, ok := given[spec.Name]
		switch {
		case ok:
			canonical, err := spec.normalize(v)
			if err != nil {
				fail(spec.Name, err.Error())
				continue
			}
			out[spec.Name] = canonical
		case spec.Required:
			fail(spec.Name, "required")
		default:
			out[spec.Name] = cloneValue(spec.Default)
		}
	}
	for i := range p.meta.Params {
		spec := &p.meta.Params[i]
		if msg := spec.requiredWhen(out); msg != "" {
			fail(spec.Name, msg)
		}
	}
	return out, problems
}

// requiredWhen reports a parameter that its condition requires and that was
// not given a value. Conditions name parameters of the same scope, so both
// are in values.
func (p *Param) requiredWhen(values map[string]any) string {
	v, ok := values[p.Name]
	if !ok || (Value{v: v}).Set() {
		return ""
	}
	for _, name := range slices.Sorted(maps.Keys(p.RequiredWhen)) {
		if s, _ := values[name].(string); slices.Contains(p.RequiredWhen[name], s) {
			return fmt.Sprintf("required when %s is %q", name, s)
		}
	}
	return ""
}

// valuesOf are canonical values of p's parameters as templates see them.
func (p *pipeline) valuesOf(canonical map[string]any) map[string]Value {
	out := make(map[string]Value, len(canonical))
	for k, v := range canonical {
		spec := p.params[k]
		out[k] = Value{v: v, env: spec != nil && spec.EnvVar}
	}
	return out
}

// arm is one process pipeline of a configuration: a catalog pipeline's own
// processors and cost_meter between the shared components.
type arm struct {
	p          *pipeline
	values     map[string]Value
	pipelineID string
	// suffix is appended to the IDs of the arm's own components, so two
	// arms' components never share an ID.
	suffix string
	// shadow sends the arm's output to nop instead of the destination.
	shadow bool
}

// assemble builds the configuration tree: receivers, processors, exporters,
// extensions, service, each in a fixed order.
func (fr *frame) assemble(shared map[string]Value, arms []arm) (*yaml.Node, error) {
	receivers, system, err := fr.receivers(shared)
	if err != nil {
		return nil, err
	}
	processors, armChains, sharedChain, err := fr.processors(shared, arms)
	if err != nil {
		return nil, err
	}
	exporters, dest, err := fr.destination(shared, arms)
	if err != nil {
		return nil, err
	}

	pipelines := mapping()
	for i, a := range arms {
		out := dest
		if a.shadow {
			out = []string{nopExporter}
		}
		pipelines.put(a.pipelineID, pipelineNode([]string{fr.processReceiver.id}, armChains[i], out))
	}
	if system {
		pipelines.put(systemPipeline, pipelineNode([]string{fr.systemReceiver.id}, sharedChain, dest))
	}

	extensions := mapping()
	extIDs, err := putAll(extensions, fr.extensions, shared)
	if err != nil {
		return nil, err
	}
	service := mapping()
	service.put("extensions", sequence(extIDs))
	telemetry, err := render(fr.telemetry, shared, false)
	if err != nil {
		return nil, err
	}
	if telemetry != nil {
		service.put("telemetry", telemetry)
	}
	service.put("pipelines", pipelines)

	root := mapping()
	root.put("receivers", receivers)
	root.put("processors", processors)
	root.put("exporters", exporters)
	root.put("extensions", extensions)
	root.put("service", service)
	return root.Node, nil
}

// receivers renders the process receiver, and the system receiver unless it
// renders nothing (system reports which).
func (fr *frame) receivers(shared map[string]Value) (_ mappingNode, system bool, _ error) {
	receivers := mapping()
	process, err := render(fr.processReceiver.tmpl, shared, true)
	if err != nil {
		return receivers, false, err
	}
	receivers.put(fr.processReceiver.id, process)
	sys, err := render(fr.systemReceiver.tmpl, shared, false)
	if err != nil || sys == nil {
		return receivers, false, err
	}
	receivers.put(fr.systemReceiver.id, sys)
	return receivers, true, nil
}

// processors renders the shared processors once and each arm's own
// processors and meter under suffixed IDs. It returns each arm's processor
// list (before, own, after, meter) and the shared list (before, after).
func (fr *frame) processors(shared map[string]Value, arms []arm) (_ mappingNode, armChains [][]string, sharedChain []string, _ error) {
	processors := mapping()
	before, err := putAll(processors, fr.before, shared)
	if err != nil {
		return processors, nil, nil, err
	}
	own := make([][]string, len(arms))
	for i, a := range arms {
		for _, c := range a.p.chain {
			node, err := render(c.tmpl, merge(a.values, c.with), true)
			if err != nil {
				return processors, nil, nil, err
			}
			processors.put(c.id+a.suffix, node)
			own[i] = append(own[i], c.id+a.suffix)
		}
	}
	after, err := putAll(processors, fr.after, shared)
	if err != nil {
		return processors, nil, nil, err
	}
	armChains = make([][]string, len(arms))
	for i, a := range arms {
		node, err := render(fr.meter.tmpl, a.values, true)
		if err != nil {
			return processors, nil, nil, err
		}
		meter := fr.meter.id + a.suffix
		processors.put(meter, node)
		armChains[i] = concat(before, own[i], after, []string{meter})
	}
	return processors, armChains, concat(before, after), nil
}

// destination renders the destination's exporters, plus nop when an arm is a
// shadow and the destination is not nop already. dest lists the
// destination's exporter IDs.
func (fr *frame) destination(shared map[string]Value, arms []arm) (_ mappingNode, dest []string, _ error) {
	node, err := render(fr.exporters, shared, true)
	if err != nil {
		return mapping(), nil, err
	}
	exporters := mappingNode{node}
	dest = keys(node)
	for _, a := range arms {
		if a.shadow && !slices.Contains(keys(exporters.Node), nopExporter) {
			exporters.put(nopExporter, mapping())
		}
	}
	return exporters, dest, nil
}

// render executes a template and parses its output, which must be a YAML
// mapping. Output that is empty (or only comments) gives nil, an error when
// the mapping is required.
func render(t *template.Template, values map[string]Value, required bool) (*yaml.Node, error) {
	var b strings.Builder
	if err := t.Execute(&b, values); err != nil {
		return nil, fmt.Errorf("template %s: %w", t.Name(), err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(b.String()), &doc); err != nil {
		return nil, fmt.Errorf("template %s rendered invalid YAML: %w", t.Name(), err)
	}
	if len(doc.Content) == 0 {
		if required {
			return nil, fmt.Errorf("template %s rendered nothing", t.Name())
		}
		return nil, nil
	}
	node := doc.Content[0]
	if node.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("template %s must render a mapping", t.Name())
	}
	return node, nil
}

// putAll renders fragments into m and returns their IDs.
func putAll(m mappingNode, frags []fragment, values map[string]Value) ([]string, error) {
	ids := make([]string, 0, len(frags))
	for _, f := range frags {
		node, err := render(f.tmpl, values, true)
		if err != nil {
			return nil, err
		}
		m.put(f.id, node)
		ids = append(ids, f.id)
	}
	return ids, nil
}

func merge(values, with map[string]Value) map[string]Value {
	if len(with) == 0 {
		return values
	}
	out := make(map[string]Value, len(values)+len(with))
	for k, v := range values {
		out[k] = v
	}
	for k, v := range with {
		out[k] = v
	}
	return out
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func pipelineNode(receivers, processors, exporters []string) *yaml.Node {
	m := mapping()
	m.put("receivers", sequence(receivers))
	if len(processors) > 0 {
		m.put("processors", sequence(processors))
	}
	m.put("exporters", sequence(exporters))
	return m.Node
}
