package processcritical // import "github.com/phoenix/platform/processors/processcritical"

import (
	"context"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/internal/chainbatch"
)

// process_critical is the first processor of the chain: it reads every
// process once and hands what it read, with each process's rule and shared
// record, to the processors after it in a chainbatch.Batch carried by the
// context. processorhelper passes the context it was given on to the next
// consumer, so the Batch is attached by annotator, the next consumer
// processorhelper is given, and recycled once the rest of the pipeline has
// returned.

// newBatch returns a Batch for md, reusing one when it can.
func (p *criticalProcessor) newBatch(md pmetric.Metrics, n int) *chainbatch.Batch {
	p.pendMu.Lock()
	var b *chainbatch.Batch
	if last := len(p.free) - 1; last >= 0 {
		b, p.free = p.free[last], p.free[:last]
	}
	p.pendMu.Unlock()
	if b == nil {
		b = &chainbatch.Batch{Procs: make([]chainbatch.Proc, 0, n)}
	}
	b.Reset(md)
	return b
}

// hold keeps md's Batch until annotator hands md on.
func (p *criticalProcessor) hold(md pmetric.Metrics, b *chainbatch.Batch) {
	p.pendMu.Lock()
	p.pending[md] = b
	p.pendMu.Unlock()
}

// take returns md's Batch, or nil.
func (p *criticalProcessor) take(md pmetric.Metrics) *chainbatch.Batch {
	p.pendMu.Lock()
	defer p.pendMu.Unlock()
	b := p.pending[md]
	delete(p.pending, md)
	return b
}

// release makes b reusable once nothing after this processor runs on it.
func (p *criticalProcessor) release(b *chainbatch.Batch) {
	b.Reset(pmetric.Metrics{})
	p.pendMu.Lock()
	if len(p.free) < maxFreeBatches {
		p.free = append(p.free, b)
	}
	p.pendMu.Unlock()
}

// maxFreeBatches bounds the Batches kept for reuse: one per batch in flight.
const maxFreeBatches = 4

// annotator is the consumer processorhelper hands process_critical's output
// to: it attaches the batch's chainbatch.Batch to the context for the
// processors after it.
type annotator struct {
	p    *criticalProcessor
	next consumer.Metrics
}

func (a annotator) Capabilities() consumer.Capabilities { return a.next.Capabilities() }

func (a annotator) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	b := a.p.take(md)
	if b == nil {
		return a.next.ConsumeMetrics(ctx, md)
	}
	err := a.next.ConsumeMetrics(chainbatch.With(ctx, b), md)
	a.p.release(b)
	return err
}
