package assignment

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	return DriftOfHead(a, asg, load, nil)
}

// DriftOfHead is DriftLoading for an assignment read without its Config (a
// head, as agent lists read them): loadAssigned reads the text, only when
// the comparison is not remembered for asg.ConfigHash. With a nil
// loadAssigned, or a Config already set, asg.Config is the text.
func DriftOfHead(a apitypes.Agent, asg *apitypes.Assignment, loadEffective, loadAssigned func() (string, error)) (apitypes.Drift, error) {
	if d := Progress(a, asg); d.State != apitypes.DriftApplied {
		return d, nil
	}
	assigned := func() (string, error) {
		if loadAssigned == nil || asg.Config != "" {
			return asg.Config, nil
		}
		return loadAssigned()
	}
	return shapes.compare(asg.ConfigHash, assigned, a.InstanceUID, a.EffectiveConfigHash, loadEffective)
}

// Progress is how far an agent has come with its assignment (nil: none),
// from its records alone: Drift short of the structural comparison, which
// it reports as DriftApplied. Counting a fleet by it reads no configuration
// text.
func Progress(a apitypes.Agent, asg *apitypes.Assignment) apitypes.Drift {
	switch {
	case asg == nil:
		return apitypes.Drift{State: apitypes.DriftUnassigned}
	case a.AwaitingRetry(asg.ConfigHash):
		r := a.ApplyRetry
		return apitypes.Drift{State: apitypes.DriftRetrying, Message: fmt.Sprintf(
			"the collector was not healthy within the supervisor's apply timeout (%d of %d); sending it again at %s",
			r.Attempts, r.Limit, r.NextAt.UTC().Format(time.RFC3339))}
	case a.RemoteConfig.Hash == asg.ConfigHash && a.RemoteConfig.Status == apitypes.ConfigStatusFailed,
		slices.Contains(a.FailedConfigHashes, asg.ConfigHash):
		return apitypes.Drift{State: apitypes.DriftFailed, Message: a.RemoteConfig.ErrorMessage}
	case a.RemoteConfig.Hash != asg.ConfigHash:
		return apitypes.Drift{State: apitypes.DriftPending}
	case a.RemoteConfig.Status != apitypes.ConfigStatusApplied:
		return apitypes.Drift{State: apitypes.DriftApplying}
	}
	return apitypes.Drift{State: apitypes.DriftApplied}
}

// shapes remembers structural comparisons: parsing both configurations is
// most of what listing agents costs, and a listing of a fleet asks the same
// questions again and again until an agent's configuration changes.
var shapes = &shapeCache{results: map[shapeKey]apitypes.Drift{}}

// maxShapes bounds the remembered comparisons (about 200 bytes each).
const maxShapes = 100_000

// shapeKey names a comparison. An agent's is its assignment's hash and its
// effective configuration's (a digest of the text when it has none), so a
// remembered one needs no text. A fleet's is both texts' digests with the
// agent's UID taken out: a pipeline renders the same configuration for
// every agent but for the UID, so a fleet's agents share one comparison
// and each pays a read and a digest, not a parse.
type shapeKey struct {
	fleet               bool
	assigned, effective string
}

type shapeCache struct {
	mu      sync.Mutex
	results map[shapeKey]apitypes.Drift
}

func (c *shapeCache) get(k shapeKey) (apitypes.Drift, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, ok := c.results[k]
	return d, ok
}

func (c *shapeCache) put(d apitypes.Drift, keys ...shapeKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.results)+len(keys) > maxShapes {
		clear(c.results) // simpler than an LRU, and rare: a fleet's worth fits
	}
	for _, k := range keys {
		c.results[k] = d
	}
}

func (c *shapeCache) compare(assignedHash string, loadAssigned func() (string, error), uid, effectiveHash string,
	loadEffective func() (string, error)) (apitypes.Drift, error) {
	var assigned, effective string
	assignedLoaded, effectiveLoaded := false, false
	if effectiveHash == "" {
		var err error
		if effective, err = loadEffective(); err != nil {
			return apitypes.Drift{}, err
		}
		effectiveHash, effectiveLoaded = digest(effective, ""), true
	}
	if assignedHash == "" {
		var err error
		if assigned, err = loadAssigned(); err != nil {
			return apitypes.Drift{}, err
		}
		assignedHash, assignedLoaded = digest(assigned, ""), true
	}
	agent := shapeKey{assigned: assignedHash, effective: effectiveHash}
	if d, ok := c.get(agent); ok {
		return d, nil
	}
	if !effectiveLoaded {
		var err error
		if effective, err = loadEffective(); err != nil {
			return apitypes.Drift{}, err
		}
	}
	if !assignedLoaded {
		var err error
		if assigned, err = loadAssigned(); err != nil {
			return apitypes.Drift{}, err
		}
	}
	fleet := shapeKey{fleet: true, assigned: digest(assigned, uid), effective: digest(effective, uid)}
	d, ok := c.get(fleet)
	if !ok {
		d = compareShapes(assigned, effective)
	}
	c.put(d, agent, fleet)
	return d, nil
}

// comparisons counts structural comparisons, for tests.
var comparisons atomic.Int64

// digest is text's SHA-256 with uid (when set) taken out.
func digest(text, uid string) string {
	if uid != "" {
		text = strings.ReplaceAll(text, uid, "")
	}
	sum := sha256.Sum256([]byte(text))
	return string(sum[:])
}

// compareShapes is Drift's structural comparison of an assigned and an
// effective configuration.
func compareShapes(assigned, effective string) apitypes.Drift {
	comparisons.Add(1)
	var want configShape
	if err := yaml.Unmarshal([]byte(assigned), &want); err != nil {
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
