package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"cmp"
	"context"
	"reflect"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/otel/metric"
)

// Bounds of a registry's state.
const (
	// keepScrapes is how many recent scrapes per host a registry keeps: the
	// two sides of a scrape arrive within one fan-out, so a few suffice.
	keepScrapes = 4
	// maxRegistryHosts bounds the hosts a registry follows.
	maxRegistryHosts = 10_000
	// maxPendingExamples bounds a candidate's examples between collections.
	maxPendingExamples = 256
)

// A registry is where the cost_meter instances of one collector that share a
// reference variant meet: the reference records each scrape's notable
// processes, each candidate the processes it exported per process, and when
// both sides of a scrape are known, in whichever order they came, the
// candidate's blind spots are counted.
type registry struct {
	key     registryKey
	members int // guarded by registries' lock

	paired atomic.Bool // whether a reference is registered

	mu         sync.Mutex
	reference  *member
	candidates map[*member]struct{}
	hosts      map[string]*hostScrapes
	newest     pcommon.Timestamp // the newest scrape time seen
}

// registryKey tells collectors apart by their component.Host (one per
// collector; parallel tests each have their own) and the reference variant.
type registryKey struct {
	collector any // collectorOf the members' host
	reference string
}

var registries = struct {
	sync.Mutex
	m map[registryKey]*registry
}{m: make(map[registryKey]*registry)}

// member is one cost_meter in a registry.
type member struct {
	reg         *registry
	reference   bool
	blindSpots  metric.Int64Counter
	opt         metric.MeasurementOption
	maxExamples int
	maxCounted  int
	// counted holds the processes already counted as blind spots, with the
	// time of the latest scrape they were missed in, for expiry.
	counted  map[procID]pcommon.Timestamp
	examples map[exampleKey]example
}

type exampleKey struct{ exe, host, resource string }

type example struct {
	key         exampleKey
	peak, share float64
}

// notable is a process the reference found notable in one scrape.
type notable struct {
	id         procID
	time       pcommon.Timestamp // of the scrape
	exe        string
	cpuRate    float64 // cores
	rss        int64
	memShare   float64
	cpuNotable bool
	memNotable bool
}

// scrapeKey identifies one scrape of one host.
type scrapeKey struct {
	host string
	time pcommon.Timestamp
}

// exportedProcess is a process a candidate exported as per-process series.
type exportedProcess struct {
	scrape scrapeKey
	pid    int64
}

type hostScrapes struct {
	scrapes []*scrape // ascending time, at most keepScrapes
	// latest is the newest scrape each candidate reported for the host: a
	// candidate past a scrape it never reported exported nothing of it.
	latest map[*member]pcommon.Timestamp
}

type scrape struct {
	time       pcommon.Timestamp
	reference  bool // whether the reference reported it
	notables   []notable
	candidates map[*member]*candidateScrape
}

type candidateScrape struct {
	exported  map[int64]struct{}
	evaluated int // notables already compared
	paired    bool
}

// join registers a cost_meter with its collector's registry. It returns nil
// when the host cannot key a registry, or when the reference variant is
// already taken.
func join(host component.Host, variant string, cfg *Config, blindSpots metric.Int64Counter, opt metric.MeasurementOption) *member {
	collector := collectorOf(host)
	if collector == nil || !reflect.TypeOf(collector).Comparable() {
		return nil
	}
	key := registryKey{collector: collector, reference: cfg.Fidelity.Reference}
	registries.Lock()
	r := registries.m[key]
	if r == nil {
		r = &registry{key: key, candidates: make(map[*member]struct{}), hosts: make(map[string]*hostScrapes)}
		registries.m[key] = r
	}
	r.members++
	registries.Unlock()

	m := &member{
		reg: r, reference: variant == cfg.Fidelity.Reference, blindSpots: blindSpots, opt: opt,
		maxExamples: cfg.Fidelity.MaxExamples, maxCounted: cfg.MaxTrackedSeries,
		counted: make(map[procID]pcommon.Timestamp), examples: make(map[exampleKey]example),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case m.reference && r.reference != nil:
		r.release()
		return nil
	case m.reference:
		r.reference = m
		r.paired.Store(true)
	default:
		r.candidates[m] = struct{}{}
	}
	return m
}

// collectorOf returns what identifies the collector a component runs in.
// The collector hands each component its one host inside a wrapper of its
// own (service/internal/graph.HostWrapper, a pointer to a struct whose Host
// field points to the shared host), so two cost_meters of one collector
// never see the same host value: the wrapped host, when the value is such
// a wrapper, is the key; any other host is its own.
func collectorOf(host component.Host) any {
	if host == nil {
		return nil
	}
	v := reflect.ValueOf(host)
	if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
		if f := v.Elem().FieldByName("Host"); f.IsValid() && f.CanInterface() && f.Kind() == reflect.Pointer && !f.IsNil() {
			return f.Interface()
		}
	}
	return host
}

// leave unregisters m.
func (m *member) leave() {
	r := m.reg
	r.mu.Lock()
	if m.reference {
		r.reference = nil
		r.paired.Store(false)
	} else {
		delete(r.candidates, m)
		for _, hs := range r.hosts {
			delete(hs.latest, m)
			for _, s := range hs.scrapes {
				delete(s.candidates, m)
			}
		}
	}
	r.mu.Unlock()
	r.release()
}

func (r *registry) release() {
	registries.Lock()
	defer registries.Unlock()
	if r.members--; r.members == 0 {
		delete(registries.m, r.key)
	}
}

// recordReference records the scrapes the reference saw in a batch and
// their notable processes, then compares them with what the candidates
// exported.
func (r *registry) recordReference(ctx context.Context, scrapes []scrapeKey, notables []notable) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range scrapes {
		if s := r.scrape(k); s != nil {
			s.reference = true
		}
	}
	for _, n := range notables {
		s := r.scrape(scrapeKey{host: n.id.host, time: n.time})
		if s != nil && !slices.ContainsFunc(s.notables, func(o notable) bool { return o.id == n.id }) {
			s.notables = append(s.notables, n) // once per process, should a batch come twice
		}
	}
	for _, k := range scrapes {
		hs := r.hosts[k.host]
		if hs == nil {
			continue
		}
		for _, s := range hs.scrapes {
			if s.time == k.time {
				for c := range r.candidates {
					r.evaluate(ctx, hs, s, c)
				}
			}
		}
	}
}

// recordCandidate records the scrapes candidate c saw in a batch and the
// processes it exported as per-process series, then compares them with
// what the reference found notable.
func (r *registry) recordCandidate(ctx context.Context, c *member, scrapes []scrapeKey, exported []exportedProcess) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, k := range scrapes {
		s := r.scrape(k)
		if s == nil {
			continue
		}
		s.candidate(c)
		if hs := r.hosts[k.host]; k.time > hs.latest[c] {
			hs.latest[c] = k.time
		}
	}
	var last *scrape
	var lastKey scrapeKey
	for _, e := range exported {
		if last == nil || lastKey != e.scrape {
			last, lastKey = r.find(e.scrape), e.scrape
		}
		if last != nil {
			last.candidate(c).exported[e.pid] = struct{}{}
		}
	}
	for _, k := range scrapes {
		if hs := r.hosts[k.host]; hs != nil {
			for _, s := range hs.scrapes {
				r.evaluate(ctx, hs, s, c)
			}
		}
	}
}

// scrape returns the record of scrape k, adding it unless it is older than
// every scrape kept for its host. It returns nil when k cannot be kept.
func (r *registry) scrape(k scrapeKey) *scrape {
	hs := r.hosts[k.host]
	if hs == nil {
		if len(r.hosts) >= maxRegistryHosts {
			return nil
		}
		hs = &hostScrapes{latest: make(map[*member]pcommon.Timestamp)}
		r.hosts[k.host] = hs
	}
	r.newest = max(r.newest, k.time)
	i := sort.Search(len(hs.scrapes), func(i int) bool { return hs.scrapes[i].time >= k.time })
	if i < len(hs.scrapes) && hs.scrapes[i].time == k.time {
		return hs.scrapes[i]
	}
	if i == 0 && len(hs.scrapes) >= keepScrapes {
		return nil
	}
	s := &scrape{time: k.time, candidates: make(map[*member]*candidateScrape)}
	hs.scrapes = slices.Insert(hs.scrapes, i, s)
	if len(hs.scrapes) > keepScrapes {
		hs.scrapes[0] = nil
		hs.scrapes = append(hs.scrapes[:0], hs.scrapes[1:]...)
	}
	return s
}

// find returns the record of scrape k, or nil.
func (r *registry) find(k scrapeKey) *scrape {
	if hs := r.hosts[k.host]; hs != nil {
		for _, s := range hs.scrapes {
			if s.time == k.time {
				return s
			}
		}
	}
	return nil
}

func (s *scrape) candidate(c *member) *candidateScrape {
	cs := s.candidates[c]
	if cs == nil {
		cs = &candidateScrape{exported: make(map[int64]struct{})}
		s.candidates[c] = cs
	}
	return cs
}

// evaluate compares, once both sides of scrape s are known, the notable
// processes the reference found in it with those candidate c exported, and
// counts the processes c missed for the first time.
func (r *registry) evaluate(ctx context.Context, hs *hostScrapes, s *scrape, c *member) {
	if !s.reference {
		return
	}
	cs := s.candidates[c]
	if cs == nil {
		if hs.latest[c] <= s.time {
			return // c has not reported this scrape yet
		}
		cs = s.candidate(c) // c went past it without exporting any of it
	}
	if cs.paired && cs.evaluated == len(s.notables) {
		return
	}
	blind := 0
	for _, n := range s.notables[cs.evaluated:] {
		if _, ok := cs.exported[n.id.pid]; ok {
			continue
		}
		c.addExamples(&n)
		if _, counted := c.counted[n.id]; !counted {
			blind++
			if len(c.counted) >= c.maxCounted {
				continue // it may be counted again: the bound's cost
			}
		}
		c.counted[n.id] = s.time
	}
	cs.evaluated, cs.paired = len(s.notables), true
	c.blindSpots.Add(ctx, int64(blind), c.opt)
}

// sweep forgets hosts with no scrape, and blind spots not missed, within
// window (in scrape time) of the newest scrape.
func (r *registry) sweep(window pcommon.Timestamp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.newest < window {
		return
	}
	cutoff := r.newest - window
	for host, hs := range r.hosts {
		if len(hs.scrapes) == 0 || hs.scrapes[len(hs.scrapes)-1].time < cutoff {
			delete(r.hosts, host)
		}
	}
	for c := range r.candidates {
		for id, t := range c.counted {
			if t < cutoff {
				delete(c.counted, id)
			}
		}
	}
}

// addExamples keeps n among c's examples for the next collection, once per
// resource that made it notable.
func (c *member) addExamples(n *notable) {
	if n.cpuNotable {
		c.addExample(exampleKey{exe: n.exe, host: n.id.host, resource: resourceCPU}, n.cpuRate, n.cpuRate)
	}
	if n.memNotable {
		c.addExample(exampleKey{exe: n.exe, host: n.id.host, resource: resourceMemory}, float64(n.rss), n.memShare)
	}
}

func (c *member) addExample(k exampleKey, peak, share float64) {
	if c.maxExamples == 0 {
		return
	}
	if e, ok := c.examples[k]; ok {
		if share > e.share {
			c.examples[k] = example{key: k, peak: peak, share: share}
		}
		return
	}
	if len(c.examples) >= maxPendingExamples {
		var least *example
		for _, e := range c.examples {
			if least == nil || e.share < least.share {
				least = &e
			}
		}
		if share <= least.share {
			return
		}
		delete(c.examples, least.key)
	}
	c.examples[k] = example{key: k, peak: peak, share: share}
}

// takeExamples returns the worst maxExamples examples since the previous
// call, worst first, and forgets them all.
func (c *member) takeExamples() []example {
	c.reg.mu.Lock()
	out := make([]example, 0, len(c.examples))
	for _, e := range c.examples {
		out = append(out, e)
	}
	clear(c.examples)
	c.reg.mu.Unlock()
	slices.SortFunc(out, func(a, b example) int {
		if o := cmp.Compare(b.share, a.share); o != 0 {
			return o
		}
		return cmp.Or(cmp.Compare(a.key.host, b.key.host), cmp.Compare(a.key.exe, b.key.exe), cmp.Compare(a.key.resource, b.key.resource))
	})
	return out[:min(len(out), c.maxExamples)]
}
