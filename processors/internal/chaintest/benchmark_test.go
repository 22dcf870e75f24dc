package chaintest

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/receivers/processsim/population"
)

// benchProcesses is the size of a benchmark batch: one scrape of one host.
const benchProcesses = 1000

// warmUpScrapes fill the processors' state before timing starts: every
// process has a rate, a kept-set history and a rollup baseline.
const warmUpScrapes = 10

// benchHost is the host both BenchmarkChain and BenchmarkFilterKeepList
// scrape: an application host with a few busy processes, a long idle tail,
// critical daemons and a little churn. Same spec, same seed: the two
// benchmarks see identical batches.
func benchHost(tb testing.TB) *simHost {
	return newSimHost(tb, "", population.Spec{
		Processes: benchProcesses, Daemons: 100, CriticalNames: []string{"postgres", "nginx", "sshd"},
		StartsPerSecond: 1, BusyFraction: 0.05, BusyCores: 1, IdleCores: 0.01, CPUNoise: 0.1,
	}, 1)
}

// runTimed feeds next one fresh scrape of host per iteration. Rendering the
// scrape, and collecting the garbage it leaves, happen with the timer
// stopped, so only next's work is timed. It reports ns/process (wall
// clock) and cpu-ns/process: the CPU time of the benchmark's own thread
// over the same calls (the processors run synchronously on it), which a
// machine shared with other work inflates far less than the wall clock.
func runTimed(b *testing.B, host *simHost, from int, next consumer.Metrics) {
	b.Helper()
	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		md := host.scrape(scrapeAt(from + i))
		runtime.GC()
		b.StartTimer()
		before := threadCPU(b)
		if err := next.ConsumeMetrics(ctx, md); err != nil {
			b.Fatal(err)
		}
		cpu += threadCPU(b) - before
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchProcesses), "ns/process")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*benchProcesses), "cpu-ns/process")
}

// rusageThread is Linux's RUSAGE_THREAD: the calling thread's usage.
const rusageThread = 1

// threadCPU returns the CPU time (user and system) the calling OS thread
// has used.
func threadCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkChain times the whole chain (process_critical → process_topk →
// process_rollup → cost_meter) on a 1,000-process batch at steady state:
// with others: rollup (the recommended pipeline), with others: drop, and
// with a decision recorder as when the processz extension is configured.
// The prefix_* cases time the chain cut after its first stages, to show
// where the time goes.
func BenchmarkChain(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts chainOptions
	}{
		{name: "rollup", opts: chainOptions{topk: topkRollup}},
		{name: "drop", opts: chainOptions{topk: topkDrop}},
		{name: "rollup_with_processz", opts: chainOptions{topk: topkRollup, record: true}},
		{name: "prefix_critical", opts: chainOptions{topk: topkRollup, stages: 1}},
		{name: "prefix_critical_topk", opts: chainOptions{topk: topkRollup, stages: 2}},
		{name: "prefix_critical_topk_rollup", opts: chainOptions{topk: topkRollup, stages: 3}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			host := benchHost(b)
			c := newChain(b, bc.opts, consumertest.NewNop())
			for n := 1; n <= warmUpScrapes; n++ {
				require.NoError(b, c.in.ConsumeMetrics(context.Background(), host.scrape(scrapeAt(n))))
			}
			runTimed(b, host, warmUpScrapes+1, c.in)
		})
	}
}

// BenchmarkFilterKeepList times the contrib filter processor on the same
// batches as BenchmarkChain, configured with the static equivalent of what
// the chain keeps: an OTTL resource condition dropping every process whose
// process.executable.name is not among the names the chain exported at the
// end of its warm-up.
func BenchmarkFilterKeepList(b *testing.B) {
	host := benchHost(b)
	sink := &consumertest.MetricsSink{}
	c := newChain(b, chainOptions{topk: topkRollup}, sink)
	for n := 1; n <= warmUpScrapes; n++ {
		require.NoError(b, c.in.ConsumeMetrics(context.Background(), host.scrape(scrapeAt(n))))
	}
	names := exportedNames(sink.AllMetrics()[warmUpScrapes-1])
	require.NotEmpty(b, names)

	filter := newKeepListFilter(b, names, consumertest.NewNop())
	runTimed(b, host, warmUpScrapes+1, filter)
	b.ReportMetric(float64(len(names)), "names")
}

// BenchmarkFilterKeepPIDs times the contrib filter processor on the same
// batches as BenchmarkChain, configured to give the chain's output: an OTTL
// resource condition dropping every process whose PID is not among those
// the chain exported at the end of its warm-up (the chain keeps the same
// set on the steady host; TestPIDFilterHasTheChainsOutput checks it). This
// is the fair comparison: the same processes out, from the same batches.
func BenchmarkFilterKeepPIDs(b *testing.B) {
	host := benchHost(b)
	sink := &consumertest.MetricsSink{}
	c := newChain(b, chainOptions{topk: topkRollup}, sink)
	for n := 1; n <= warmUpScrapes; n++ {
		require.NoError(b, c.in.ConsumeMetrics(context.Background(), host.scrape(scrapeAt(n))))
	}
	pids := exportedPIDs(sink.AllMetrics()[warmUpScrapes-1])
	require.NotEmpty(b, pids)

	filter := newPIDFilter(b, pids, consumertest.NewNop())
	runTimed(b, host, warmUpScrapes+1, filter)
	b.ReportMetric(float64(len(pids)), "pids")
}

// BenchmarkChainVsFilterPIDs runs the recommended chain (others: rollup)
// and the PID filter of BenchmarkFilterKeepPIDs on copies of the same
// scrape in every iteration, alternating which goes first, and reports each
// one's wall-clock and thread CPU time per process and their ratios. On a
// machine shared with other work, load changes between two benchmark runs
// far more than within one iteration: this is the comparison to trust.
func BenchmarkChainVsFilterPIDs(b *testing.B) {
	host := benchHost(b)
	sink := &consumertest.MetricsSink{}
	warm := newChain(b, chainOptions{topk: topkRollup}, sink)
	for n := 1; n <= warmUpScrapes; n++ {
		require.NoError(b, warm.in.ConsumeMetrics(context.Background(), host.scrape(scrapeAt(n))))
	}
	pids := exportedPIDs(sink.AllMetrics()[warmUpScrapes-1])
	filter := newPIDFilter(b, pids, consumertest.NewNop())

	// The timed chain has its own warm-up on a second, identical host.
	chainHost := benchHost(b)
	c := newChain(b, chainOptions{topk: topkRollup}, consumertest.NewNop())
	for n := 1; n <= warmUpScrapes; n++ {
		require.NoError(b, c.in.ConsumeMetrics(context.Background(), chainHost.scrape(scrapeAt(n))))
	}

	ctx := context.Background()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var chainWall, chainCPU, filterWall, filterCPU time.Duration
	run := func(next consumer.Metrics, md pmetric.Metrics, wall, cpu *time.Duration) {
		start, before := time.Now(), threadCPU(b)
		if err := next.ConsumeMetrics(ctx, md); err != nil {
			b.Fatal(err)
		}
		*cpu += threadCPU(b) - before
		*wall += time.Since(start)
	}
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		at := scrapeAt(warmUpScrapes + 1 + i)
		forChain := chainHost.scrape(at)
		forFilter := host.scrape(at)
		runtime.GC()
		b.StartTimer()
		if i%2 == 0 {
			run(c.in, forChain, &chainWall, &chainCPU)
			run(filter, forFilter, &filterWall, &filterCPU)
		} else {
			run(filter, forFilter, &filterWall, &filterCPU)
			run(c.in, forChain, &chainWall, &chainCPU)
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*benchProcesses) }
	b.ReportMetric(per(chainWall), "chain-ns/process")
	b.ReportMetric(per(filterWall), "filter-ns/process")
	b.ReportMetric(per(chainCPU), "chain-cpu-ns/process")
	b.ReportMetric(per(filterCPU), "filter-cpu-ns/process")
	b.ReportMetric(float64(chainWall)/float64(filterWall), "chain/filter")
	b.ReportMetric(float64(chainCPU)/float64(filterCPU), "chain/filter-cpu")
}

// BenchmarkChainStateMemory measures the heap the whole chain keeps per
// tracked process: 20 hosts of 1,000 processes, each scraped twice, through
// one chain. Scratch buffers are sized by the largest batch (1,000
// processes), so 20 hosts make them small next to the state.
func BenchmarkChainStateMemory(b *testing.B) {
	const hosts = 20
	var perProcess float64
	for range b.N {
		sims := make([]*simHost, hosts)
		for i := range sims {
			sims[i] = newSimHost(b, fmt.Sprintf("host-%02d", i), population.Spec{
				Processes: benchProcesses, Daemons: 100, CriticalNames: []string{"postgres", "nginx", "sshd"},
				BusyFraction: 0.05, BusyCores: 1, IdleCores: 0.01, CPUNoise: 0.1,
			}, uint64(i+1))
		}
		c := newChain(b, chainOptions{topk: topkRollup}, consumertest.NewNop())

		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for n := 1; n <= 2; n++ {
			for _, h := range sims {
				require.NoError(b, c.in.ConsumeMetrics(context.Background(), h.scrape(scrapeAt(n))))
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perProcess = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (hosts * benchProcesses)
		runtime.KeepAlive(sims)
		c.shutdown(b)
	}
	b.ReportMetric(perProcess, "bytes/process")
}
