package processtopk

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processtopk/internal/metadata"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

const mb = 1 << 20

// testProc is one process at one scrape.
type testProc struct {
	pid      int64
	exe      string
	start    time.Time
	cpu      float64 // cumulative CPU seconds
	rss      int64
	host     string
	critical string // process_critical rule, if marked
	cpuMode  bool
}

// scrape renders processes as one scraper batch stamped at.
func scrape(at time.Time, procs ...testProc) pmetric.Metrics {
	md := pmetric.NewMetrics()
	for _, tp := range procs {
		p := processmetrics.Process{
			PID: tp.pid, ParentPID: 1, ExecutableName: tp.exe, Owner: "app",
			Start:   pcommon.NewTimestampFromTime(tp.start),
			CPUUser: tp.cpu * 0.5, CPUSystem: tp.cpu * 0.5, MemoryRSS: tp.rss, CPUModeAttr: tp.cpuMode,
		}
		rm := p.AppendTo(md.ResourceMetrics(), pcommon.NewTimestampFromTime(at))
		if tp.host != "" {
			rm.Resource().Attributes().PutStr(processmetrics.AttrHostName, tp.host)
		}
		if tp.critical != "" {
			rm.Resource().Attributes().PutStr(processmetrics.MarkerCriticalRule, tp.critical)
		}
	}
	return md
}

// testConfig is the default configuration changed by edit.
func testConfig(edit func(*Config)) *Config {
	cfg := createDefaultConfig().(*Config)
	if edit != nil {
		edit(cfg)
	}
	return cfg
}

// newTestProcessor builds the processor itself, with a clock the test moves.
func newTestProcessor(t *testing.T, cfg *Config) (*topkProcessor, *time.Time) {
	t.Helper()
	require.NoError(t, cfg.Validate())
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	now := t0
	p.now = func() time.Time { return now }
	return p, &now
}

func consume(t *testing.T, p *topkProcessor, md pmetric.Metrics) pmetric.Metrics {
	t.Helper()
	out, err := p.processMetrics(t.Context(), md)
	require.NoError(t, err)
	return out
}

// outcomes classifies the processes of an output by PID: "critical", "kept",
// or "rollup" (left for process_rollup). Dropped processes are absent. With
// others: rollup, process_topk marks the processes it keeps and leaves the
// rest unmarked: in a batch carrying the kept marker, an unmarked
// non-critical process is process_rollup's.
func outcomes(md pmetric.Metrics) map[int64]string {
	got := map[int64]string{}
	ranked := carriesKept(md)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		attrs := rms.At(i).Resource().Attributes()
		pid, ok := processmetrics.PID(rms.At(i).Resource())
		if !ok {
			continue
		}
		_, critical := attrs.Get(processmetrics.MarkerCriticalRule)
		switch {
		case critical:
			got[pid] = "critical"
		case handedToRollup(attrs, ranked):
			got[pid] = "rollup"
		default:
			got[pid] = "kept"
		}
	}
	return got
}

// carriesKept reports whether some resource of md carries the kept marker.
func carriesKept(md pmetric.Metrics) bool {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if _, ok := rms.At(i).Resource().Attributes().Get(processmetrics.MarkerKept); ok {
			return true
		}
	}
	return false
}

// handedToRollup reports whether a non-critical process of a batch is left
// for process_rollup: explicitly marked, or unmarked in a ranked batch.
func handedToRollup(attrs pcommon.Map, ranked bool) bool {
	if v, ok := attrs.Get(processmetrics.MarkerRollup); ok && v.Bool() {
		return true
	}
	_, kept := attrs.Get(processmetrics.MarkerKept)
	return ranked && !kept
}

// keptPIDs lists the non-critical processes an output keeps, sorted.
func keptPIDs(md pmetric.Metrics) []int64 {
	var pids []int64
	for pid, o := range outcomes(md) {
		if o == "kept" {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// recorder is a fake processz extension that keeps every batch's records.
type recorder struct {
	mu      sync.Mutex
	source  component.ID
	batches [][]decision.Record
}

func (r *recorder) RecordDecisions(source component.ID, records []decision.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.source = source
	r.batches = append(r.batches, records)
}

func (r *recorder) last() []decision.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.batches) == 0 {
		return nil
	}
	return r.batches[len(r.batches)-1]
}

func (*recorder) Start(context.Context, component.Host) error { return nil }
func (*recorder) Shutdown(context.Context) error              { return nil }

type hostWith struct{ ext component.Component }

func (h hostWith) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{component.MustNewID("processz"): h.ext}
}
