package chainbatch

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

func batchOf(n int) (pmetric.Metrics, *Batch) {
	md := pmetric.NewMetrics()
	b := &Batch{}
	b.Reset(md)
	for i := range n {
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutInt("process.pid", int64(i))
		b.Procs = append(b.Procs, Proc{RM: rm})
	}
	return md, b
}

func TestFindFollowsTheBatch(t *testing.T) {
	md, b := batchOf(5)
	rms := md.ResourceMetrics()
	hint := 0
	for i := range 5 {
		assert.Same(t, &b.Procs[i], b.Find(rms.At(i), &hint), "resource %d", i)
	}
	assert.Nil(t, b.index, "an unchanged batch needs no index")

	// Resources removed on the way are skipped.
	i := 0
	rms.RemoveIf(func(pmetric.ResourceMetrics) bool { i++; return i%2 == 0 })
	hint = 0
	for j := 0; j < rms.Len(); j++ {
		p := b.Find(rms.At(j), &hint)
		if assert.NotNil(t, p) {
			assert.Equal(t, rms.At(j), p.RM)
		}
	}

	// A resource the batch does not hold has no entry; a copy is another
	// resource.
	other := pmetric.NewResourceMetrics()
	rms.At(0).CopyTo(other)
	assert.Nil(t, b.Find(other, &hint))
	assert.Nil(t, b.Find(rms.AppendEmpty(), &hint))
	// Out of order, through the index.
	hint = 0
	assert.Equal(t, rms.At(1), b.Find(rms.At(1), &hint).RM)
	assert.Equal(t, rms.At(0), b.Find(rms.At(0), &hint).RM)
}

func TestFromMatchesTheBatch(t *testing.T) {
	md, b := batchOf(1)
	ctx := With(context.Background(), b)
	assert.Same(t, b, From(ctx, md))
	assert.Nil(t, From(ctx, pmetric.NewMetrics()), "another batch")
	assert.Nil(t, From(context.Background(), md))
	var nilBatch *Batch
	hint := 0
	assert.Nil(t, nilBatch.Find(md.ResourceMetrics().At(0), &hint))

	b.Reset(pmetric.Metrics{})
	assert.Nil(t, From(ctx, md), "a recycled Batch describes nothing")
	assert.Same(t, b, Of(ctx))
}

func TestSlotKeepsTheLatestState(t *testing.T) {
	type state struct{ owner *int }
	var s Slot
	a, c := new(int), new(int)
	assert.Nil(t, s.Load())
	sa := &state{owner: a}
	s.Store(sa)
	assert.Same(t, sa, s.Load())
	sc := &state{owner: c}
	s.Store(sc)
	got, _ := s.Load().(*state)
	assert.Same(t, sc, got)
	assert.NotSame(t, a, got.owner, "the state names its owner: a sees it is not its own")
}
