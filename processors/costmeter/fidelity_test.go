package costmeter

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

func TestCoverageCountsIncreases(t *testing.T) {
	cfg := testConfig("candidate")
	cfg.ActiveSeriesWindow = time.Minute
	tm := newTestMeter(t, cfg)
	p := proc(1, "app")
	p.CPUUser, p.CPUSystem, p.DiskRead, p.DiskWrite, p.MemoryRSS = 10, 4, 100, 200, 1000

	steps := []struct {
		name     string
		edit     func()
		advance  time.Duration
		cpu      float64
		disk     int64
		memory   int64
		resource int64
	}{
		{name: "the first point adds nothing", edit: func() {}, memory: 1000},
		{name: "increases", edit: func() { p.CPUUser, p.CPUSystem, p.DiskRead, p.DiskWrite, p.MemoryRSS = 12, 5, 150, 260, 2000 },
			cpu: 3, disk: 110, memory: 3000},
		{name: "a reset starts again from its value", edit: func() { p.CPUUser, p.CPUSystem = 1, 6 }, cpu: 4, disk: 110, memory: 5000},
		{name: "after a reset", edit: func() { p.CPUUser, p.CPUSystem = 2, 6.5 }, cpu: 5.5, disk: 110, memory: 7000},
		{name: "a new start time starts again", edit: func() {
			p.Start = ts(t0.Add(-time.Minute))
			p.CPUUser, p.CPUSystem, p.DiskRead = 100, 100, 1000
		}, cpu: 5.5, disk: 110, memory: 9000},
		{name: "after a new start time", edit: func() { p.CPUUser = 101 }, cpu: 6.5, disk: 110, memory: 11000},
		{name: "a series unseen for the window is forgotten", edit: func() { p.CPUUser, p.DiskRead = 103, 1100 },
			advance: time.Minute, cpu: 6.5, disk: 110, memory: 13000},
		{name: "after expiry", edit: func() { p.CPUUser, p.DiskRead = 104, 1200 }, cpu: 7.5, disk: 210, memory: 15000},
	}
	for i, step := range steps {
		step.edit()
		tm.advance(10*time.Second + step.advance)
		tm.consume(t, scrapeAt(*tm.now, p))
		assert.Equal(t, step.cpu, counter[float64](t, tm.tel, "cpu_time_attributed", "candidate"), "%d: %s", i, step.name)
		assert.Equal(t, step.disk, counter[int64](t, tm.tel, "disk_io_attributed", "candidate"), "%d: %s", i, step.name)
		assert.Equal(t, step.memory, counter[int64](t, tm.tel, "memory_attributed", "candidate"), "%d: %s", i, step.name)
		assert.Zero(t, counter[float64](t, tm.tel, "cpu_time_rolled_up", "candidate"))
		assert.Zero(t, counter[int64](t, tm.tel, "memory_rolled_up", "candidate"))
		assert.Zero(t, counter[int64](t, tm.tel, "processes_rolled_up", "candidate"))
		_, ok := sumOf[int64](t, tm.tel, "network_io_attributed", "candidate")
		assert.False(t, ok, "no process.network.io: never incremented")
	}
}

func TestCoverageSplitsAttributedAndRolledUp(t *testing.T) {
	tm := newTestMeter(t, testConfig("candidate"))
	start := t0.Add(-time.Hour)
	a, b := proc(1, "a"), proc(2, "b")
	r := rollup{start: start, members: 3, cpuUser: 10, cpuSys: 2, rss: 5000, diskRead: 700}
	scrape := func(network bool, tx int64) pmetric.Metrics {
		md := scrapeAt(*tm.now, a, b)
		if network {
			appendNetwork(md, 0, start, *tm.now, tx)
		}
		r.ts, r.hasNetwork, r.network = *tm.now, network, 2*tx
		r.appendTo(md)
		appendAggregate(md, "others") // neither kind: ignored
		return md
	}

	tm.consume(t, scrape(false, 0))
	tm.advance(10 * time.Second)
	a.CPUUser, b.CPUSystem, a.DiskWrite = 2, 0.5, 64
	r.cpuUser, r.cpuSys, r.diskRead, r.rss = 13, 3, 800, 6000
	tm.consume(t, scrape(false, 0))

	assert.Equal(t, 1.5, counter[float64](t, tm.tel, "cpu_time_attributed", "candidate"))
	assert.Equal(t, 4.0, counter[float64](t, tm.tel, "cpu_time_rolled_up", "candidate"))
	assert.Equal(t, int64(64), counter[int64](t, tm.tel, "disk_io_attributed", "candidate"))
	assert.Equal(t, int64(100), counter[int64](t, tm.tel, "disk_io_rolled_up", "candidate"))
	assert.Equal(t, int64(2*2<<20), counter[int64](t, tm.tel, "memory_attributed", "candidate"), "two processes of 1 MiB, two scrapes")
	assert.Equal(t, int64(11000), counter[int64](t, tm.tel, "memory_rolled_up", "candidate"))
	assert.Equal(t, int64(6), counter[int64](t, tm.tel, "processes_rolled_up", "candidate"))
	assert.Equal(t, int64(4), counter[int64](t, tm.tel, "process_resources", "candidate"))
	_, ok := sumOf[int64](t, tm.tel, "network_io_rolled_up", "candidate")
	assert.False(t, ok)

	// process.network.io appears: its first points add nothing, then count.
	tm.advance(10 * time.Second)
	tm.consume(t, scrape(true, 1000))
	assert.Equal(t, int64(0), counter[int64](t, tm.tel, "network_io_attributed", "candidate"))
	assert.Equal(t, int64(0), counter[int64](t, tm.tel, "network_io_rolled_up", "candidate"))
	tm.advance(10 * time.Second)
	tm.consume(t, scrape(true, 1010))
	assert.Equal(t, int64(10), counter[int64](t, tm.tel, "network_io_attributed", "candidate"))
	assert.Equal(t, int64(20), counter[int64](t, tm.tel, "network_io_rolled_up", "candidate"))
}

// TestCoverageConservation checks, on random populations, that a batch split
// into per-process series plus a rollup of the rest (with fixed membership,
// as process_rollup's accumulators keep it) yields the totals of the unsplit
// batch: what the server's conservation error measures.
func TestCoverageConservation(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 99))
		tel := shutdownTelemetry(t)
		base := newTestMeterWithTelemetry(t, testConfig("baseline"), tel, componentID("baseline"))
		cand := newTestMeterWithTelemetry(t, testConfig("candidate"), tel, componentID("candidate"))

		procs := make([]processmetrics.Process, 1+rng.IntN(40))
		kept := make([]bool, len(procs))
		for i := range procs {
			procs[i] = proc(int64(100+i), "p")
			procs[i].CPUUser, procs[i].DiskRead = rng.Float64()*100, rng.Int64N(1<<30)
			kept[i] = rng.IntN(3) == 0
		}
		now := t0
		for range 2 + rng.IntN(5) {
			var keep []processmetrics.Process
			r := rollup{start: t0.Add(-time.Hour), ts: now}
			for i := range procs {
				p := &procs[i]
				p.CPUUser += rng.Float64() * 10
				p.CPUSystem += rng.Float64()
				p.DiskWrite += rng.Int64N(1 << 20)
				p.MemoryRSS = rng.Int64N(1 << 30)
				if kept[i] {
					keep = append(keep, *p)
					continue
				}
				r.members++
				r.cpuUser += p.CPUUser
				r.cpuSys += p.CPUSystem
				r.diskRead += p.DiskRead + p.DiskWrite
				r.rss += p.MemoryRSS
			}
			base.consume(t, scrapeAt(now, procs...))
			split := scrapeAt(now, keep...)
			if r.members > 0 {
				r.appendTo(split)
			}
			cand.consume(t, split)
			now = now.Add(10 * time.Second)
		}

		total := func(name, variant string) float64 {
			att, _ := sumOf[float64](t, tel, name+"_attributed", variant)
			rolled, _ := sumOf[float64](t, tel, name+"_rolled_up", variant)
			return att + rolled
		}
		totalInt := func(name, variant string) int64 {
			att, _ := sumOf[int64](t, tel, name+"_attributed", variant)
			rolled, _ := sumOf[int64](t, tel, name+"_rolled_up", variant)
			return att + rolled
		}
		assert.InEpsilon(t, total("cpu_time", "baseline"), total("cpu_time", "candidate"), 1e-9, "seed %d", seed)
		assert.Equal(t, totalInt("disk_io", "baseline"), totalInt("disk_io", "candidate"), "seed %d", seed)
		assert.Equal(t, totalInt("memory", "baseline"), totalInt("memory", "candidate"), "seed %d", seed)
		assert.Equal(t, counter[int64](t, tel, "process_resources", "baseline"),
			counter[int64](t, tel, "process_resources", "candidate")+counter[int64](t, tel, "processes_rolled_up", "candidate"), "seed %d", seed)
		assert.Zero(t, totalInt("memory", "baseline")-counter[int64](t, tel, "memory_attributed", "baseline"), "nothing rolled up in the baseline")
		require.False(t, t.Failed())
	}
}
