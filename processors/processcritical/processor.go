package processcritical // import "github.com/phoenix/platform/processors/processcritical"

import (
	"context"
	"hash/maphash"
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
	"github.com/phoenix/platform/processors/internal/slab"
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
	// uses tells which of identityAttrs some rule matches on.
	uses [4]bool

	mu sync.Mutex
	// cache is keyed by host, then PID: an int key is hashed and compared
	// far faster than a Key with its string, and a batch is one host.
	cache    map[string]*hostCache
	tracked  int // entries over all hosts
	lastHost *hostCache
	warmed   int64 // keeps hostCache's warming loads from being optimised away
	// batchHosts are the hosts of the current batch.
	batchHosts []*hostCache
	entries    slab.Slab[cacheEntry]
	lastSweep  time.Time
	recorder   decision.Recorder

	// free holds Batches to reuse.
	freeMu sync.Mutex
	free   []*chainbatch.Batch
}

type cacheEntry struct {
	start    pcommon.Timestamp
	identity uint64 // hash of the attributes rules match on
	rule     string // "" when no rule matched
	lastSeen time.Time
	// pid and pos (its index in its host's latest batch) let the next
	// batch find the entry by position; evicted is set when the sweep
	// forgets it.
	pid     int64
	pos     int
	evicted bool
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
	p := &criticalProcessor{
		id:        set.ID,
		logger:    set.Logger,
		telemetry: tb,
		matcher:   matcher,
		ttl:       cfg.ProcessTTL,
		now:       time.Now,
		seed:      maphash.MakeSeed(),
		cache:     make(map[string]*hostCache),
	}
	for i, attr := range identityAttrs {
		p.uses[i] = matcher.Uses(attr)
	}
	return p, nil
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
	p.endBatch()
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
// command line and owner, in that order.
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
			matched[0] = p.identityValue(0, v)
		case processmetrics.AttrExecutablePath:
			matched[1] = p.identityValue(1, v)
		case processmetrics.AttrCommandLine:
			matched[2] = p.identityValue(2, v)
		case processmetrics.AttrOwner:
			matched[3] = p.identityValue(3, v)
		case processmetrics.MarkerCriticalRule:
			id.marked = true
		}
	}
	if !id.isProcess {
		return id
	}
	// One maphash.String per value, chained: a maphash.Hash copies short
	// strings into its buffer first, which cost more than the hashing.
	h := uint64(len(matched))
	for _, s := range matched {
		h = (h ^ maphash.String(p.seed, s)) * hashPrime
	}
	id.hash = h
	return id
}

// identityAttrs are the attributes rules can match on, in the order of
// criticalProcessor.uses.
var identityAttrs = [4]string{
	processmetrics.AttrExecutableName, processmetrics.AttrExecutablePath,
	processmetrics.AttrCommandLine, processmetrics.AttrOwner,
}

// identityValue returns the i-th identity attribute's value when some rule
// matches on it, and "" otherwise: an attribute no rule reads cannot change
// the match, so it is neither read nor hashed (the default rules only read
// the executable name; a command line is the longest string of a process).
func (p *criticalProcessor) identityValue(i int, v pcommon.Value) string {
	if !p.uses[i] {
		return ""
	}
	return v.Str()
}

// hashPrime chains the values' hashes in order (the 64-bit FNV prime).
const hashPrime = 1099511628211
