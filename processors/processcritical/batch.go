package processcritical // import "github.com/phoenix/platform/processors/processcritical"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/internal/chainbatch"
)

// process_critical is the first processor of the chain: it reads every
// process once and hands what it read, with each process's rule and shared
// record, to the processors after it in a chainbatch.Batch carried by the
// context, recycled once the rest of the pipeline has returned.

// process is the processor's Funcs.Process: processMetrics, with the
// batch's chainbatch.Batch in the context handed on.
func (p *criticalProcessor) process(ctx context.Context, md pmetric.Metrics) (context.Context, pmetric.Metrics, error) {
	b := p.newBatch(md, md.ResourceMetrics().Len())
	md, err := p.mark(ctx, md, b)
	return chainbatch.With(ctx, b), md, err
}

// processMetrics marks one batch, with nothing after the processor.
func (p *criticalProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	b := p.newBatch(md, md.ResourceMetrics().Len())
	defer p.recycle(b)
	return p.mark(ctx, md, b)
}

// done recycles the Batch process attached to ctx.
func (p *criticalProcessor) done(ctx context.Context) {
	if b := chainbatch.Of(ctx); b != nil {
		p.recycle(b)
	}
}

// recycle keeps b for a later batch.
func (p *criticalProcessor) recycle(b *chainbatch.Batch) {
	b.Reset(pmetric.Metrics{})
	p.freeMu.Lock()
	if len(p.free) < maxFreeBatches {
		p.free = append(p.free, b)
	}
	p.freeMu.Unlock()
}

// newBatch returns a Batch for md, reusing one when it can.
func (p *criticalProcessor) newBatch(md pmetric.Metrics, n int) *chainbatch.Batch {
	p.freeMu.Lock()
	var b *chainbatch.Batch
	if last := len(p.free) - 1; last >= 0 {
		b, p.free = p.free[last], p.free[:last]
	}
	p.freeMu.Unlock()
	if b == nil {
		b = &chainbatch.Batch{Procs: make([]chainbatch.Proc, 0, n)}
	}
	b.Reset(md)
	return b
}

// maxFreeBatches bounds the Batches kept for reuse: one per batch in flight.
const maxFreeBatches = 4
