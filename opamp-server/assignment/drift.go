package assignment

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Drift compares an agent's effective configuration with its assignment
// (nil when it has none).
//
// It compares structure, not values: which components are configured
// and how pipelines wire them. The collector reports its effective
// configuration re-rendered with every default filled in (and some
// components, such as host_metrics' scrapers, not rendered at all), so
// comparing values would report drift where there is none, while a different
// component set or pipeline wiring is exactly what running the wrong
// configuration looks like.
func Drift(a apitypes.Agent, asg *apitypes.Assignment) apitypes.Drift {
	d, _ := DriftLoading(a, asg, func() (string, error) { return a.EffectiveConfig, nil })
	return d
}

// DriftLoading is Drift for an agent listed without its effective
// configuration's text: load reads it, only when the structural comparison
// is needed and not remembered for the agent's effective-config hash.
func DriftLoading(a apitypes.Agent, asg *apitypes.Assignment, load func() (string, error)) (apitypes.Drift, error) {
	switch {
	case asg == nil:
		return apitypes.Drift{State: apitypes.DriftUnassigned}, nil
	case a.AwaitingRetry(asg.ConfigHash):
		r := a.ApplyRetry
		return apitypes.Drift{State: apitypes.DriftRetrying, Message: fmt.Sprintf(
			"the collector was not healthy within the supervisor's apply timeout (%d of %d); sending it again at %s",
			r.Attempts, r.Limit, r.NextAt.UTC().Format(time.RFC3339))}, nil
	case a.RemoteConfig.Hash == asg.ConfigHash && a.RemoteConfig.Status == apitypes.ConfigStatusFailed,
		slices.Contains(a.FailedConfigHashes, asg.ConfigHash):
		return apitypes.Drift{State: apitypes.DriftFailed, Message: a.RemoteConfig.ErrorMessage}, nil
	case a.RemoteConfig.Hash != asg.ConfigHash:
		return apitypes.Drift{State: apitypes.DriftPending}, nil
	case a.RemoteConfig.Status != apitypes.ConfigStatusApplied:
		return apitypes.Drift{State: apitypes.DriftApplying}, nil
	}
	return shapes.compare(asg, a.EffectiveConfigHash, load)
}

// shapes remembers structural comparisons: parsing both configurations is
// most of what listing agents costs, and a listing of a fleet asks the same
// questions again and again until an agent's configuration changes.
var shapes = &shapeCache{results: map[shapeKey]apitypes.Drift{}}

// maxShapes bounds the remembered comparisons (about 200 bytes each).
const maxShapes = 100_000

// shapeKey names a comparison by the assigned text's digest and the
// effective configuration's hash (its text's digest when it has none), so
// a remembered one needs no effective text.
type shapeKey struct {
	assigned  [sha256.Size]byte
	effective string
}

type shapeCache struct {
	mu      sync.Mutex
	results map[shapeKey]apitypes.Drift
}

func (c *shapeCache) compare(asg *apitypes.Assignment, effectiveHash string, load func() (string, error)) (apitypes.Drift, error) {
	var effective string
	if effectiveHash == "" {
		var err error
		if effective, err = load(); err != nil {
			return apitypes.Drift{}, err
		}
		sum := sha256.Sum256([]byte(effective))
		effectiveHash = "text " + string(sum[:])
	}
	key := shapeKey{sha256.Sum256([]byte(asg.Config)), effectiveHash}
	c.mu.Lock()
	d, ok := c.results[key]
	c.mu.Unlock()
	if ok {
		return d, nil
	}
	if !strings.HasPrefix(effectiveHash, "text ") {
		var err error
		if effective, err = load(); err != nil {
			return apitypes.Drift{}, err
		}
	}
	d = compareShapes(asg.Config, effective)
	c.mu.Lock()
	if len(c.results) >= maxShapes {
		clear(c.results) // simpler than an LRU, and rare: a fleet's worth fits
	}
	c.results[key] = d
	c.mu.Unlock()
	return d, nil
}

// compareShapes is Drift's structural comparison of an assigned and an
// effective configuration.
func compareShapes(assigned, effective string) apitypes.Drift {
	want, err := assignedShapes.of(assigned)
	if err != nil {
		return apitypes.Drift{State: apitypes.DriftDrifted, Message: "assigned configuration unreadable: " + err.Error()}
	}
	var got configShape
	if err := yaml.Unmarshal([]byte(effective), &got); err != nil || effective == "" {
		return apitypes.Drift{State: apitypes.DriftDrifted, Message: "effective configuration unreadable or not reported"}
	}
	if differ := want.diff(got); len(differ) > 0 {
		return apitypes.Drift{State: apitypes.DriftDrifted, Sections: differ}
	}
	return apitypes.Drift{State: apitypes.DriftInSync}
}

// assignedShapes remembers assigned configurations' shapes: a fleet
// shares a few, and parsing is what a comparison costs.
var assignedShapes = &parsedShapes{shapes: map[[sha256.Size]byte]parsedShape{}}

// maxAssignedShapes bounds the remembered assigned shapes.
const maxAssignedShapes = 1000

type parsedShape struct {
	shape configShape
	err   error
}

type parsedShapes struct {
	mu     sync.Mutex
	shapes map[[sha256.Size]byte]parsedShape
}

func (p *parsedShapes) of(config string) (configShape, error) {
	key := sha256.Sum256([]byte(config))
	p.mu.Lock()
	ps, ok := p.shapes[key]
	p.mu.Unlock()
	if ok {
		return ps.shape, ps.err
	}
	ps.err = yaml.Unmarshal([]byte(config), &ps.shape)
	p.mu.Lock()
	if len(p.shapes) >= maxAssignedShapes {
		clear(p.shapes)
	}
	p.shapes[key] = ps
	p.mu.Unlock()
	return ps.shape, ps.err
}

// configShape is the structure of a collector configuration: component
// names and how pipelines wire them, not the components' settings.
type configShape struct {
	Receivers  keysOnly `yaml:"receivers"`
	Processors keysOnly `yaml:"processors"`
	Exporters  keysOnly `yaml:"exporters"`
	Connectors keysOnly `yaml:"connectors"`
	Extensions keysOnly `yaml:"extensions"`
	Service    struct {
		Extensions []string                 `yaml:"extensions"`
		Pipelines  map[string]pipelineShape `yaml:"pipelines"`
	} `yaml:"service"`
}

type pipelineShape struct {
	Receivers  []string `yaml:"receivers"`
	Processors []string `yaml:"processors"`
	Exporters  []string `yaml:"exporters"`
}

// diff lists the sections where got does not have want's structure. The
// supervisor adds its own extension (opamp), so extensions need only be a
// superset.
func (want configShape) diff(got configShape) []string {
	var differ []string
	for _, sec := range []struct {
		name      string
		want, got keysOnly
	}{{"receivers", want.Receivers, got.Receivers}, {"processors", want.Processors, got.Processors},
		{"exporters", want.Exporters, got.Exporters}, {"connectors", want.Connectors, got.Connectors}} {
		if !sameSet(sec.want, sec.got) {
			differ = append(differ, sec.name)
		}
	}
	for _, ext := range want.Service.Extensions {
		if !slices.Contains(got.Service.Extensions, ext) {
			differ = append(differ, "service.extensions")
			break
		}
	}
	if !samePipelines(want.Service.Pipelines, got.Service.Pipelines) {
		differ = append(differ, "service.pipelines")
	}
	return differ
}

func samePipelines(want, got map[string]pipelineShape) bool {
	if !slices.Equal(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))) {
		return false
	}
	for id, w := range want {
		g := got[id]
		// Processor order matters; receivers and exporters are sets.
		if !slices.Equal(w.Processors, g.Processors) || !sameSet(w.Receivers, g.Receivers) || !sameSet(w.Exporters, g.Exporters) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// keysOnly reads a YAML mapping's keys and skips its values: decoding every
// component's settings was most of a comparison's cost.
type keysOnly []string

func (k *keysOnly) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		if n.Tag == "!!null" {
			return nil
		}
		return fmt.Errorf("line %d: want a mapping of component IDs", n.Line)
	}
	keys := make(keysOnly, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		keys = append(keys, n.Content[i].Value)
	}
	*k = keys
	return nil
}
