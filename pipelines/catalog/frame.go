package catalog // import "github.com/phoenix/platform/pipelines/catalog"

import (
	"fmt"
	"io/fs"
	"text/template"

	"go.yaml.in/yaml/v3"
)

// frame is shared/collector.yaml: the shared parameters and the templates of
// every component around a pipeline's own processors.
type frame struct {
	params []Param
	// processReceiver feeds the process pipelines; systemReceiver, when it
	// renders anything, feeds metrics/system.
	processReceiver, systemReceiver fragment
	// before and after are the shared processors around a pipeline's own,
	// in order; meter is the per-variant cost_meter that ends it.
	before, after []fragment
	meter         fragment
	// exporters renders the destination: exporter IDs to configurations.
	exporters *template.Template
	// extensions are all enabled in service.extensions.
	extensions []fragment
	// telemetry renders service.telemetry, or nothing.
	telemetry *template.Template
}

// fragment is one component's ID and configuration template.
type fragment struct {
	id   string
	tmpl *template.Template
}

type frameFile struct {
	Parameters []Param `yaml:"parameters"`
	Receivers  struct {
		Process idConfig `yaml:"process"`
		System  idConfig `yaml:"system"`
	} `yaml:"receivers"`
	Processors struct {
		Before orderedConfigs `yaml:"before"`
		After  orderedConfigs `yaml:"after"`
		Meter  idConfig       `yaml:"meter"`
	} `yaml:"processors"`
	Exporters  string         `yaml:"exporters"`
	Extensions orderedConfigs `yaml:"extensions"`
	Telemetry  string         `yaml:"telemetry"`
}

type idConfig struct {
	ID     string `yaml:"id"`
	Config string `yaml:"config"`
}

// orderedConfigs is a mapping of component IDs to templates, in file order.
type orderedConfigs []idConfig

func (o *orderedConfigs) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of component IDs to templates", node.Line)
	}
	for i := 0; i+1 < len(node.Content); i += 2 {
		var text string
		if err := node.Content[i+1].Decode(&text); err != nil {
			return err
		}
		*o = append(*o, idConfig{ID: node.Content[i].Value, Config: text})
	}
	return nil
}

func loadFrame(fsys fs.FS) (*frame, error) {
	const file = "shared/collector.yaml"
	var f frameFile
	if err := decodeFile(fsys, file, &f); err != nil {
		return nil, err
	}
	fr := &frame{}
	for _, spec := range f.Parameters {
		if spec.Scope == "" {
			spec.Scope = ScopeCollector
		}
		if spec.Scope != ScopeCollector && spec.Scope != ScopeVariant {
			return nil, fmt.Errorf("%s: parameter %q: unknown scope %q", file, spec.Name, spec.Scope)
		}
		if err := spec.compile(); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		fr.params = append(fr.params, spec)
	}
	var err error
	parse := func(ic idConfig) fragment {
		if err != nil {
			return fragment{}
		}
		if ic.ID == "" {
			err = fmt.Errorf("%s: a component has no id", file)
			return fragment{}
		}
		var t *template.Template
		t, err = parseTemplate(ic.ID, ic.Config)
		return fragment{id: ic.ID, tmpl: t}
	}
	parseAll := func(ics []idConfig) []fragment {
		out := make([]fragment, len(ics))
		for i, ic := range ics {
			out[i] = parse(ic)
		}
		return out
	}
	fr.processReceiver = parse(f.Receivers.Process)
	fr.systemReceiver = parse(f.Receivers.System)
	fr.before = parseAll(f.Processors.Before)
	fr.after = parseAll(f.Processors.After)
	fr.meter = parse(f.Processors.Meter)
	fr.extensions = parseAll(f.Extensions)
	fr.exporters = parse(idConfig{ID: "exporters", Config: f.Exporters}).tmpl
	fr.telemetry = parse(idConfig{ID: "telemetry", Config: f.Telemetry}).tmpl
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return fr, nil
}
