package chaintest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"

	"github.com/phoenix/platform/receivers/processsim/population"
)

// TestChainConcurrentBatches feeds the chain from several goroutines at
// once, as a receiver may: batches of different hosts, and two goroutines
// taking turns on the same host. The processors share per-process records
// (processors/internal/chainbatch) across their own locks; under the race
// detector this shows those records are safe to use concurrently, and the
// output keeps its promises.
func TestChainConcurrentBatches(t *testing.T) {
	sink := &consumertest.MetricsSink{}
	c := newChain(t, chainOptions{topk: topkRollup}, sink)
	spec := population.Spec{Processes: 200, Daemons: 20, CriticalNames: []string{"postgres", "nginx", "sshd"},
		StartsPerSecond: 1, BusyFraction: 0.05, BusyCores: 1, IdleCores: 0.01, CPUNoise: 0.1}
	const hosts, scrapes = 3, 8
	var wg sync.WaitGroup
	for h := range hosts {
		sim := newSimHost(t, fmt.Sprintf("host-%d", h), spec, uint64(h+1))
		var mu sync.Mutex // the population is not safe for concurrent use
		for g := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 1 + g; n <= scrapes; n += 2 {
					mu.Lock()
					md := sim.scrape(scrapeAt(n))
					mu.Unlock()
					assert.NoError(t, c.in.ConsumeMetrics(t.Context(), md))
				}
			}()
		}
	}
	wg.Wait()
	require.Len(t, sink.AllMetrics(), hosts*scrapes)
	for _, md := range sink.AllMetrics() {
		assert.Empty(t, phoenixAttributes(md), "markers leaked")
		assert.LessOrEqual(t, len(indexBatch(md).procs), maxKept+spec.Daemons, "bounded output")
	}
}
