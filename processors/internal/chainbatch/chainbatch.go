// Package chainbatch is the in-process side of the contract between
// Phoenix's process processors: what the first processor of the chain learned
// about one batch (each process's identity and reading, its critical rule),
// what process_topk decided, and a long-lived record per process through
// which the processors after the first reach their own state without a map
// lookup of their own.
//
// A Batch travels with the batch in the context passed down the pipeline.
// It is only ever a shortcut: each entry names its resource, and a processor
// that finds no entry for a resource (the batch was copied or changed on the
// way, or the context was not passed on) reads the resource's attributes and
// markers as before. Markers on the resources stay the authoritative contract
// between processors; the Batch saves re-reading them.
package chainbatch // import "github.com/phoenix/platform/processors/internal/chainbatch"

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// Proc is one process resource of a batch.
type Proc struct {
	// RM is the resource this entry describes.
	RM pmetric.ResourceMetrics
	// Reading is the resource read by the first processor, in one pass.
	Reading processmetrics.Reading
	// Rule is the critical rule that matched, "" for none.
	Rule string
	// Kept is set by process_topk: the process is exported as its own
	// resource (critical processes are always kept and never ranked).
	Kept bool
	// Shared is the process's long-lived record, nil when the first
	// processor keeps none.
	Shared *Shared
}

// Critical reports whether the process matched a critical rule.
func (p *Proc) Critical() bool { return p.Rule != "" }

// Batch is what the chain learned about one batch.
type Batch struct {
	md    pmetric.Metrics
	Procs []Proc
	// Ranked is set by process_topk with others: rollup once every
	// non-critical process of the batch has Kept set or not: the processes
	// neither kept nor critical are process_rollup's members.
	Ranked bool

	index map[pmetric.ResourceMetrics]int
}

// Reset readies b, possibly used before, to describe md. A Batch is used by
// one pipeline at a time: its processors run one after the other.
func (b *Batch) Reset(md pmetric.Metrics) {
	clear(b.Procs) // drop references into earlier batches
	b.md, b.Procs, b.Ranked, b.index = md, b.Procs[:0], false, nil
}

// For reports whether b describes md.
func (b *Batch) For(md pmetric.Metrics) bool { return b != nil && b.md == md }

// Find returns the entry of rm, or nil when b has none for it. Entries are
// in resource order and a processor walks the resources in order too, so
// hint (the entry after the last one found; start at 0) makes a walk over
// a batch linear: resources that processors before removed are skipped,
// and only a resource out of order costs an index of the entries.
func (b *Batch) Find(rm pmetric.ResourceMetrics, hint *int) *Proc {
	if b == nil {
		return nil
	}
	if j := *hint; j < len(b.Procs) && b.Procs[j].RM == rm {
		*hint = j + 1
		return &b.Procs[j]
	}
	if b.index == nil {
		// Scan ahead once; a resource the entries do not hold then costs
		// an index, and every later miss a map lookup.
		for j := *hint + 1; j < len(b.Procs); j++ {
			if b.Procs[j].RM == rm {
				*hint = j + 1
				return &b.Procs[j]
			}
		}
		b.index = make(map[pmetric.ResourceMetrics]int, len(b.Procs))
		for j := range b.Procs {
			b.index[b.Procs[j].RM] = j
		}
	}
	if j, ok := b.index[rm]; ok {
		*hint = j + 1
		return &b.Procs[j]
	}
	return nil
}

// Shared is the record a process keeps for as long as the first processor
// tracks it. Each later processor has a Slot where it keeps a pointer to its
// own state for the process.
type Shared struct {
	TopK, Rollup Slot
}

// Slot holds a pointer to one processor's state for a process. The state
// itself names the instance that owns it (a reloaded configuration, two
// consumers of one pipeline): a processor only uses a state it owns. A slot
// holds one type, the state of the processor it is named for, and is read
// and written atomically: batches of one pipeline may run concurrently,
// each processor under its own lock. The pointer sits in the slot itself,
// not in a separate object, so reaching the state costs one dependent load
// less per process and processor.
type Slot struct {
	v atomic.Value
}

// Load returns the state last stored, or nil.
func (s *Slot) Load() any { return s.v.Load() }

// Store keeps state, a pointer of the slot's one type.
func (s *Slot) Store(state any) { s.v.Store(state) }

type ctxKey struct{}

// With returns ctx carrying b.
func With(ctx context.Context, b *Batch) context.Context {
	return context.WithValue(ctx, ctxKey{}, b)
}

// Of returns the Batch ctx carries, or nil.
func Of(ctx context.Context) *Batch {
	b, _ := ctx.Value(ctxKey{}).(*Batch)
	return b
}

// From returns the Batch ctx carries for md, or nil.
func From(ctx context.Context, md pmetric.Metrics) *Batch {
	b, _ := ctx.Value(ctxKey{}).(*Batch)
	if !b.For(md) {
		return nil
	}
	return b
}
