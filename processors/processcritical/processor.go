package processcritical // import "github.com/phoenix/platform/processors/processcritical"

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/chainbatch"
	"github.com/phoenix/platform/processors/processcritical/internal/metadata"
)

// criticalProcessor marks processes that match a rule. Rule evaluation is
// cached per process: a process is re-evaluated only when its start time (PID
// reuse) or its identifying attributes (an exec) change.
type criticalProcessor struct {
	id        component.ID
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	matcher   *criticalrules.Matcher
	ttl       time.Duration
	now       func() time.Time
	seed      maphash.Seed

	mu sync.Mutex
	// cache is keyed by host, then PID: an int key is hashed and compared
	// far faster than a Key with its string, and a batch is one host.
	cache     map[string]*hostCache
	tracked   int // entries over all hosts
	lastHost  *hostCache
	lastSweep time.Time
	recorder  decision.Recorder

	// free holds Batches to reuse.
	freeMu sync.Mutex
	free   []*chainbatch.Batch
}

// hostCache is the cache of one host.name.
type hostCache struct {
	name  string
	procs map[int64]*cacheEntry
}

type cacheEntry struct {
	start    pcommon.Timestamp
	identity uint64 // hash of the attributes rules match on
	rule     string // "" when no rule matched
	lastSeen time.Time
	// shared is the process's record for the processors after this one:
	// written by them only, through its atomic slots.
	shared chainbatch.Shared
}

func newProcessor(set processor.Settings, cfg *Config) (*criticalProcessor, error) {
	matcher, err := criticalrules.Compile(cfg.Rules)
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &criticalProcessor{
		id:        set.ID,
		logger:    set.Logger,
		telemetry: tb,
		matcher:   matcher,
		ttl:       cfg.ProcessTTL,
		now:       time.Now,
		seed:      maphash.MakeSeed(),
		cache:     make(map[string]*hostCache),
	}, nil
}

func (p *criticalProcessor) start(_ context.Context, host component.Host) error {
	p.mu.Lock()
	p.recorder = decision.FindRecorder(host)
	p.mu.Unlock()
	p.logger.Debug("process_critical started", zap.Int("rules", p.matcher.Len()), zap.Bool("reporting_decisions", p.recorder != nil))
	return nil
}

func (p *criticalProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

// mark marks the batch's critical processes and records in batch what it
// read of each process.
func (p *criticalProcessor) mark(ctx context.Context, md pmetric.Metrics, batch *chainbatch.Batch) (pmetric.Metrics, error) {
	now := p.now()
	var seen, marked int64
	var records []decision.Record

	rms := md.ResourceMetrics()
	p.mu.Lock()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		id := p.scan(attrs)
		if !id.isProcess {
			continue
		}
		seen++
		r := processmetrics.Reading{Key: processmetrics.Key{Host: id.host, PID: id.pid}}
		processmetrics.ReadPoints(rm, &r)
		rule, e := p.match(r, attrs, id.hash, now)
		batch.Procs = append(batch.Procs, chainbatch.Proc{RM: rm, Reading: r, Rule: rule, Shared: &e.shared})
		if rule == "" {
			if id.marked {
				attrs.Remove(processmetrics.MarkerCriticalRule)
			}
			continue
		}
		marked++
		attrs.PutStr(processmetrics.MarkerCriticalRule, rule)
		if p.recorder != nil {
			records = append(records, decision.Record{
				PID: r.Key.PID, Host: r.Key.Host, Executable: processmetrics.StringAttr(attrs, processmetrics.AttrExecutableName),
				Outcome: decision.Critical, Rule: rule,
			})
		}
	}
	p.sweep(now)
	tracked := int64(p.tracked)
	recorder := p.recorder
	p.mu.Unlock()

	if recorder != nil {
		recorder.RecordDecisions(p.id, records)
	}
	p.telemetry.ProcessorProcessCriticalProcesses.Add(ctx, seen)
	p.telemetry.ProcessorProcessCriticalProcessesMarked.Add(ctx, marked)
	p.telemetry.ProcessorProcessCriticalTracked.Record(ctx, tracked)
	return md, nil
}

// match returns the rule matching the process, from the cache when the process
// is unchanged since it was last evaluated. Callers hold p.mu.
func (p *criticalProcessor) match(r processmetrics.Reading, attrs pcommon.Map, identity uint64, now time.Time) (string, *cacheEntry) {
	hc := p.hostCache(r.Key.Host)
	e, ok := hc.procs[r.Key.PID]
	if ok && e.start == r.Start && e.identity == identity {
		e.lastSeen = now
		return e.rule, e
	}
	rule, _ := p.matcher.Match(attrs)
	if !ok {
		e = &cacheEntry{}
		hc.procs[r.Key.PID] = e
		p.tracked++
	}
	// The shared record stays: the processors after this one tell a reused
	// PID apart themselves, and may be reading it for a concurrent batch.
	e.start, e.identity, e.rule, e.lastSeen = r.Start, identity, rule, now
	return rule, e
}

// hostCache returns the cache of a host, creating it. Callers hold p.mu.
func (p *criticalProcessor) hostCache(name string) *hostCache {
	if hc := p.lastHost; hc != nil && hc.name == name {
		return hc
	}
	hc := p.cache[name]
	if hc == nil {
		hc = &hostCache{name: strings.Clone(name), procs: make(map[int64]*cacheEntry)}
		p.cache[hc.name] = hc
	}
	p.lastHost = hc
	return hc
}

// resourceIdentity is what one pass over a resource's attributes finds.
type resourceIdentity struct {
	pid       int64
	isProcess bool
	host      string
	// hash covers the attributes rules can match on, so an exec that keeps
	// the PID but changes the program is noticed.
	hash   uint64
	marked bool // carries phoenix.critical.rule
}

// scan reads, in one pass over a resource's attributes, its PID and host
// (as processmetrics.Read does), whether it carries the critical marker,
// and the hash of the attributes rules match on: executable name and path,
// command line and owner, in that order, each followed by a zero byte.
func (p *criticalProcessor) scan(attrs pcommon.Map) resourceIdentity {
	var id resourceIdentity
	var matched [4]string
	for k, v := range attrs.All() {
		switch k {
		case processmetrics.AttrPID:
			id.pid, id.isProcess = processmetrics.PIDValue(v)
		case processmetrics.AttrHostName:
			id.host = v.Str()
		case processmetrics.AttrExecutableName:
			matched[0] = v.Str()
		case processmetrics.AttrExecutablePath:
			matched[1] = v.Str()
		case processmetrics.AttrCommandLine:
			matched[2] = v.Str()
		case processmetrics.AttrOwner:
			matched[3] = v.Str()
		case processmetrics.MarkerCriticalRule:
			id.marked = true
		}
	}
	if !id.isProcess {
		return id
	}
	var h maphash.Hash
	h.SetSeed(p.seed)
	for _, s := range matched {
		_, _ = h.WriteString(s)
		_ = h.WriteByte(0)
	}
	id.hash = h.Sum64()
	return id
}

// sweep evicts processes not seen for the TTL, at most twice per TTL so the
// scan's cost stays negligible. Callers hold p.mu.
func (p *criticalProcessor) sweep(now time.Time) {
	if now.Sub(p.lastSweep) < p.ttl/2 {
		return
	}
	p.lastSweep = now
	for name, hc := range p.cache {
		for pid, e := range hc.procs {
			if now.Sub(e.lastSeen) > p.ttl {
				delete(hc.procs, pid)
				p.tracked--
			}
		}
		if len(hc.procs) == 0 {
			delete(p.cache, name)
		}
	}
	p.lastHost = nil
}
