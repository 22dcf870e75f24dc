package processtopk // import "github.com/phoenix/platform/processors/processtopk"

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.uber.org/zap"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/chainbatch"
	"github.com/phoenix/platform/processors/internal/slab"
	"github.com/phoenix/platform/processors/processtopk/internal/metadata"
)

// topkProcessor keeps the top processes of each scrape. One ConsumeMetrics
// call is one scrape: rates are computed between calls and ranking happens
// per host within the call, which is why it belongs before any batching.
type topkProcessor struct {
	id        component.ID
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	others    Others
	initialK  int
	ttl       time.Duration
	now       func() time.Time

	mu        sync.Mutex
	sel       selector
	procs     map[processmetrics.Key]*procState
	hosts     map[string]*hostState
	lastSweep int64
	recorder  decision.Recorder
	states    slab.Slab[procState]
	// Scratch reused across batches.
	cands  []candidate
	drop   []bool
	warmed int64 // keeps warm's loads from being optimised away
}

// batchCounts is what one batch adds to the telemetry.
type batchCounts struct {
	kept, others, changes int64
	k                     int // largest k a host of the batch was ranked with
}

func newProcessor(set processor.Settings, cfg *Config) (*topkProcessor, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &topkProcessor{
		id:        set.ID,
		logger:    set.Logger,
		telemetry: tb,
		others:    cfg.Others,
		initialK:  cfg.K,
		ttl:       cfg.ProcessTTL,
		now:       time.Now,
		sel:       newSelector(cfg),
		procs:     make(map[processmetrics.Key]*procState),
		hosts:     make(map[string]*hostState),
	}, nil
}

func (p *topkProcessor) start(_ context.Context, host component.Host) error {
	recorder := decision.FindRecorder(host)
	p.mu.Lock()
	p.recorder = recorder
	p.mu.Unlock()
	p.logger.Debug("process_topk started",
		zap.Int("k", p.initialK), zap.Int("max_kept", p.sel.keptCap), zap.String("others", string(p.others)),
		zap.Bool("reporting_decisions", recorder != nil))
	return nil
}

func (p *topkProcessor) shutdown(context.Context) error {
	p.telemetry.Shutdown()
	return nil
}

func (p *topkProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	now := p.now().UnixNano()
	rms := md.ResourceMetrics()

	batch := chainbatch.From(ctx, md)
	p.mu.Lock()
	cands := p.collect(rms, batch, now)
	counts := p.decide(cands, now)
	var records []decision.Record
	recorder := p.recorder
	if recorder != nil {
		records = p.records(rms, cands)
	}
	p.apply(rms, cands)
	if batch != nil && p.others == OthersRollup {
		batch.Ranked = true
	}
	p.sweep(now)
	tracked := int64(len(p.procs))
	p.mu.Unlock()

	if recorder != nil {
		recorder.RecordDecisions(p.id, records)
	}
	p.telemetry.ProcessorProcessTopkProcessesKept.Add(ctx, counts.kept)
	if p.others == OthersDrop {
		p.telemetry.ProcessorProcessTopkProcessesDropped.Add(ctx, counts.others)
	} else {
		p.telemetry.ProcessorProcessTopkProcessesRolledUp.Add(ctx, counts.others)
	}
	p.telemetry.ProcessorProcessTopkKeptChanges.Add(ctx, counts.changes)
	if counts.k > 0 {
		p.telemetry.ProcessorProcessTopkK.Record(ctx, int64(counts.k))
	}
	p.telemetry.ProcessorProcessTopkTracked.Record(ctx, tracked)
	return md, nil
}

// collect reads every process resource, updates its rate, and returns the
// non-critical ones as candidates. Critical processes are settled here: they
// are never ranked, so they leave no state. What process_critical read and
// matched (batch) is used instead of reading a resource again. Callers hold
// p.mu.
func (p *topkProcessor) collect(rms pmetric.ResourceMetricsSlice, batch *chainbatch.Batch, now int64) []candidate {
	cands := p.cands[:0]
	hint := 0
	p.warm(batch)
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		var r processmetrics.Reading
		var critical bool
		proc := batch.Find(rm, &hint)
		if proc != nil {
			r, critical = proc.Reading, proc.Critical()
		} else {
			var ok bool
			if r, ok = processmetrics.Read(rm); !ok {
				continue
			}
			_, critical = rm.Resource().Attributes().Get(processmetrics.MarkerCriticalRule)
		}
		if critical {
			p.settleCritical(rm.Resource())
			continue
		}
		st := p.state(proc, r.Key)
		st.observe(&r)
		st.lastSeen = now
		cands = append(cands, candidate{
			state: st, proc: proc, host: r.Key.Host, pid: r.Key.PID, res: i,
			cpuRate: st.cpuRate, memory: r.MemoryRSS, series: r.Series,
		})
	}
	p.cands = cands
	return cands
}

// warm reads one word of each state the batch's shared records point to,
// in a loop short enough for the processor to have many of these memory
// loads in flight at once; collect, too long per process for that, then
// finds the states in cache. Callers hold p.mu.
func (p *topkProcessor) warm(batch *chainbatch.Batch) {
	if batch == nil {
		return
	}
	var sum int64
	for i := range batch.Procs {
		if sh := batch.Procs[i].Shared; sh != nil {
			if st, _ := sh.TopK.Load().(*procState); st != nil && st.owner == p {
				sum += st.lastSeen
			}
		}
	}
	p.warmed = sum
}

// state returns the process's state, from the record the chain shares for
// it when there is one (no lookup), creating it when the process is new.
// Callers hold p.mu.
func (p *topkProcessor) state(proc *chainbatch.Proc, key processmetrics.Key) *procState {
	var shared *chainbatch.Shared
	if proc != nil && proc.Shared != nil {
		shared = proc.Shared
		if st, _ := shared.TopK.Load().(*procState); st != nil && st.owner == p && !st.evicted {
			return st
		}
	}
	st, ok := p.procs[key]
	if !ok {
		st = p.states.New()
		st.owner = p
		p.procs[key] = st
	}
	if shared != nil {
		shared.TopK.Store(st)
	}
	return st
}

// settleCritical leaves a critical process's rule for process_rollup, or
// strips every marker when nothing after this processor needs them. A rollup
// marker never survives on a critical process.
func (p *topkProcessor) settleCritical(res pcommon.Resource) {
	if p.others == OthersDrop {
		processmetrics.StripMarkers(res)
		return
	}
	res.Attributes().Remove(processmetrics.MarkerRollup)
}

// decide runs the selector over each host's candidates. Callers hold p.mu.
func (p *topkProcessor) decide(cands []candidate, now int64) batchCounts {
	var counts batchCounts
	if !sameHost(cands) {
		// Several hosts in one batch (a gateway): group them, keeping each
		// host's processes in resource order.
		slices.SortStableFunc(cands, func(a, b candidate) int { return strings.Compare(a.host, b.host) })
	}
	for start := 0; start < len(cands); {
		end := start + 1
		for end < len(cands) && cands[end].host == cands[start].host {
			end++
		}
		hs := p.hosts[cands[start].host]
		if hs == nil {
			hs = &hostState{k: p.initialK}
			p.hosts[cands[start].host] = hs
		}
		hs.lastSeen = now
		d := p.sel.decide(cands[start:end], hs.k)
		counts.k = max(counts.k, hs.k)
		counts.changes += int64(d.changes)
		hs.k = d.nextK
		start = end
	}
	for i := range cands {
		if cands[i].outcome.kept() {
			counts.kept++
		} else {
			counts.others++
		}
	}
	return counts
}

func sameHost(cands []candidate) bool {
	for i := 1; i < len(cands); i++ {
		if cands[i].host != cands[0].host {
			return false
		}
	}
	return true
}

// apply writes the decisions into the batch: with others = rollup, kept
// processes get the kept marker and lose any rollup marker, and the rest
// are left as they are (process_rollup folds every process of a ranked
// batch that is neither kept nor critical); with others = drop, the rest are
// removed and kept processes lose every marker. Callers hold p.mu.
func (p *topkProcessor) apply(rms pmetric.ResourceMetricsSlice, cands []candidate) {
	if p.others == OthersRollup {
		for i := range cands {
			c := &cands[i]
			if !c.outcome.kept() {
				continue
			}
			attrs := rms.At(c.res).Resource().Attributes()
			attrs.Remove(processmetrics.MarkerRollup)
			attrs.PutBool(processmetrics.MarkerKept, true)
			if c.proc != nil {
				c.proc.Kept = true
			}
		}
		return
	}
	drop := slices.Grow(p.drop[:0], rms.Len())[:rms.Len()]
	clear(drop)
	p.drop = drop
	dropping := false
	for i := range cands {
		c := &cands[i]
		if c.outcome.kept() {
			processmetrics.StripMarkers(rms.At(c.res).Resource())
			if c.proc != nil {
				c.proc.Kept = true
			}
		} else {
			drop[c.res] = true
			dropping = true
		}
	}
	if !dropping {
		return
	}
	i := 0
	rms.RemoveIf(func(pmetric.ResourceMetrics) bool {
		remove := drop[i]
		i++
		return remove
	})
}

// records builds one decision record per candidate, in a slice the recorder
// takes ownership of. Callers hold p.mu.
func (p *topkProcessor) records(rms pmetric.ResourceMetricsSlice, cands []candidate) []decision.Record {
	records := make([]decision.Record, len(cands))
	for i := range cands {
		c := &cands[i]
		r := &records[i]
		r.PID, r.Host = c.pid, c.host
		if v, ok := rms.At(c.res).Resource().Attributes().Get(processmetrics.AttrExecutableName); ok {
			r.Executable = v.Str()
		}
		r.Rank, r.RankBy = c.rank, string(c.rankBy)
		r.CPURate, r.MemoryRSS = c.cpuRate, c.memory
		switch {
		case c.outcome.kept():
			r.Outcome, r.OutStreak = decision.Kept, int(c.outStreak)
		case p.others == OthersDrop:
			r.Outcome = decision.Dropped
		default:
			r.Outcome = decision.RolledUp
		}
	}
	return records
}
