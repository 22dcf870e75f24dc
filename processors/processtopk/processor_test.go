package processtopk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/goldentest"
	"github.com/phoenix/platform/processors/processtopk/internal/metadata"
	"github.com/phoenix/platform/processors/processtopk/internal/metadatatest"
)

// TestGolden feeds each case's scrapes (input.yaml, or input_1.yaml,
// input_2.yaml, … in order) and compares the last output with expected.yaml.
func TestGolden(t *testing.T) {
	for _, name := range []string{"rollup", "drop", "hysteresis"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			cfg := createDefaultConfig().(*Config)
			cm, err := confmaptest.LoadConf(filepath.Join(dir, "config.yaml"))
			require.NoError(t, err)
			require.NoError(t, cm.Unmarshal(cfg))

			sink := &consumertest.MetricsSink{}
			p, err := NewFactory().CreateMetrics(t.Context(), processortest.NewNopSettings(metadata.Type), cfg, sink)
			require.NoError(t, err)
			require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

			inputs := []string{filepath.Join(dir, "input.yaml")}
			if _, err := os.Stat(inputs[0]); err != nil {
				inputs, err = filepath.Glob(filepath.Join(dir, "input_*.yaml"))
				require.NoError(t, err)
				require.NotEmpty(t, inputs)
			}
			for _, in := range inputs {
				require.NoError(t, p.ConsumeMetrics(t.Context(), goldentest.Read(t, in)))
			}
			require.Len(t, sink.AllMetrics(), len(inputs))
			goldentest.Compare(t, filepath.Join(dir, "expected.yaml"), sink.AllMetrics()[len(inputs)-1])
		})
	}
}

func TestRanksByCurrentRateNotLifetime(t *testing.T) {
	p, now := newTestProcessor(t, testConfig(func(c *Config) { c.K, c.RankBy, c.ExitAfter = 1, []RankKey{RankCPU}, 1 }))
	// veteran burned 10 hours of CPU over 10 hours but is idle now; sprinter
	// idled for a day and is busy now.
	veteran := testProc{pid: 10, exe: "veteran", start: t0.Add(-10 * time.Hour), cpu: 36000}
	sprinter := testProc{pid: 20, exe: "sprinter", start: t0.Add(-24 * time.Hour), cpu: 60}

	out := consume(t, p, scrape(*now, veteran, sprinter))
	assert.Equal(t, []int64{10}, keptPIDs(out), "on first sight the lifetime average ranks")

	*now = now.Add(10 * time.Second)
	veteran.cpu += 0.1
	sprinter.cpu += 9
	out = consume(t, p, scrape(*now, veteran, sprinter))
	assert.Equal(t, []int64{20}, keptPIDs(out), "the current rate must rank, not the lifetime total")
	assert.InDelta(t, 0.9, p.procs[processmetrics.Key{PID: 20}].cpuRate, 1e-9)
	assert.InDelta(t, 0.01, p.procs[processmetrics.Key{PID: 10}].cpuRate, 1e-9)
}

func TestPIDReuseStartsOver(t *testing.T) {
	rec := &recorder{}
	p, now := newTestProcessor(t, testConfig(func(c *Config) { c.K, c.RankBy, c.ExitAfter = 1, []RankKey{RankCPU}, 3 }))
	require.NoError(t, p.start(t.Context(), hostWith{rec}))
	busy := testProc{pid: 7, exe: "busy", start: t0.Add(-time.Hour), cpu: 3600}
	idle := testProc{pid: 8, exe: "idle", start: t0.Add(-time.Hour), cpu: 360}
	consume(t, p, scrape(*now, busy, idle))

	// PID 7 now belongs to a new, idle process: it has no rate history and no
	// kept-set history, so hysteresis does not hold it.
	*now = now.Add(10 * time.Second)
	reused := testProc{pid: 7, exe: "reused", start: now.Add(-100 * time.Second), cpu: 1}
	idle.cpu++
	out := consume(t, p, scrape(*now, reused, idle))
	assert.Equal(t, map[int64]string{7: "rollup", 8: "kept"}, outcomes(out))
	records := map[int64]decision.Record{}
	for _, r := range rec.last() {
		records[r.PID] = r
	}
	assert.InDelta(t, 0.01, records[7].CPURate, 1e-9, "a reused PID must start from the new process's lifetime average")
	assert.Equal(t, decision.RolledUp, records[7].Outcome)
	assert.InDelta(t, 0.1, records[8].CPURate, 1e-9)
}

func TestCriticalProcessesAreNeverRankedOrCounted(t *testing.T) {
	p, now := newTestProcessor(t, testConfig(func(c *Config) { c.K, c.RankBy, c.MaxKept = 1, []RankKey{RankCPU}, 1 }))
	in := scrape(*now,
		testProc{pid: 1, exe: "postgres", start: t0.Add(-time.Hour), cpu: 7200, critical: "databases"},
		testProc{pid: 2, exe: "nginx", start: t0.Add(-time.Hour), cpu: 0, critical: "web-servers"},
		testProc{pid: 3, exe: "java", start: t0.Add(-time.Hour), cpu: 360},
		testProc{pid: 4, exe: "bash", start: t0.Add(-time.Hour), cpu: 36},
	)
	// A stale rollup marker on a critical process must not reach process_rollup.
	in.ResourceMetrics().At(1).Resource().Attributes().PutBool(processmetrics.MarkerRollup, true)
	out := consume(t, p, in)
	assert.Equal(t, map[int64]string{1: "critical", 2: "critical", 3: "kept", 4: "rollup"}, outcomes(out))
	_, marked := out.ResourceMetrics().At(1).Resource().Attributes().Get(processmetrics.MarkerRollup)
	assert.False(t, marked)
	assert.Len(t, p.procs, 2, "critical processes leave no state")
}

func TestNonProcessResourcesPassUntouched(t *testing.T) {
	for _, others := range []Others{OthersRollup, OthersDrop} {
		t.Run(string(others), func(t *testing.T) {
			p, now := newTestProcessor(t, testConfig(func(c *Config) { c.K, c.Others = 1, others }))
			in := scrape(*now, testProc{pid: 3, exe: "a", start: t0.Add(-time.Hour)}, testProc{pid: 4, exe: "b", start: t0.Add(-time.Hour)})
			host := in.ResourceMetrics().AppendEmpty()
			host.Resource().Attributes().PutStr(processmetrics.AttrHostName, "web-1")
			host.Resource().Attributes().PutStr(processmetrics.MarkerRollup, "not ours to touch")
			host.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetName("system.cpu.load_average.1m")
			want := pmetric.NewResourceMetrics()
			host.CopyTo(want)

			out := consume(t, p, in)
			rms := out.ResourceMetrics()
			require.Positive(t, rms.Len())
			assert.Equal(t, want, rms.At(rms.Len()-1))
		})
	}
}

func TestHysteresis(t *testing.T) {
	// a leads, then b overtakes it for good; c never leads.
	rates := []struct{ a, b, c float64 }{{3, 1, 0.5}, {1, 3, 0.5}, {0, 3, 2}, {0, 3, 2}, {0, 3, 2}}
	tests := []struct {
		exitAfter int
		// aKept[i]: whether a is kept at scrape i; aStreak its out streak.
		aKept   []bool
		aStreak []int
	}{
		{exitAfter: 1, aKept: []bool{true, false, false, false, false}, aStreak: []int{0, 0, 0, 0, 0}},
		{exitAfter: 3, aKept: []bool{true, true, true, false, false}, aStreak: []int{0, 1, 2, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("exit_after=%d", tt.exitAfter), func(t *testing.T) {
			rec := &recorder{}
			p, now := newTestProcessor(t, testConfig(func(c *Config) { c.K, c.RankBy, c.ExitAfter = 1, []RankKey{RankCPU}, tt.exitAfter }))
			require.NoError(t, p.start(t.Context(), hostWith{rec}))
			a := testProc{pid: 1, exe: "a", start: t0.Add(-time.Hour), cpu: 10800}
			b := testProc{pid: 2, exe: "b", start: t0.Add(-time.Hour), cpu: 3600}
			c := testProc{pid: 3, exe: "c", start: t0.Add(-time.Hour), cpu: 1800}
			for i, r := range rates {
				if i > 0 {
					*now = now.Add(10 * time.Second)
					a.cpu, b.cpu, c.cpu = a.cpu+10*r.a, b.cpu+10*r.b, c.cpu+10*r.c
				}
				out := consume(t, p, scrape(*now, a, b, c))
				got := outcomes(out)
				assert.Equal(t, tt.aKept[i], got[1] == "kept", "scrape %d: a", i)
				assert.Equal(t, i > 0, got[2] == "kept", "scrape %d: b", i)
				assert.Equal(t, "rollup", got[3], "scrape %d: c is never in the top 1 long enough", i)
				for _, rec := range rec.last() {
					if rec.PID == 1 {
						assert.Equal(t, tt.aStreak[i], rec.OutStreak, "scrape %d: a's out streak", i)
					}
				}
			}
		})
	}
}

func TestDuplicateScrapeKeepsRate(t *testing.T) {
	p, now := newTestProcessor(t, testConfig(nil))
	proc := testProc{pid: 5, exe: "a", start: t0.Add(-time.Hour), cpu: 100}
	consume(t, p, scrape(*now, proc))
	*now = now.Add(10 * time.Second)
	proc.cpu += 5
	consume(t, p, scrape(now.Add(10*time.Second), proc))
	consume(t, p, scrape(now.Add(10*time.Second), proc))
	assert.InDelta(t, 0.25, p.procs[processmetrics.Key{PID: 5}].cpuRate, 1e-9)
}

func TestOthersDropRemovesAndStripsMarkers(t *testing.T) {
	p, now := newTestProcessor(t, testConfig(func(c *Config) { c.K, c.RankBy, c.Others = 1, []RankKey{RankMemory}, OthersDrop }))
	in := scrape(*now,
		testProc{pid: 1, exe: "postgres", start: t0, rss: mb, critical: "databases"},
		testProc{pid: 2, exe: "java", start: t0, rss: 900 * mb},
		testProc{pid: 3, exe: "bash", start: t0, rss: 2 * mb},
	)
	in.ResourceMetrics().At(1).Resource().Attributes().PutBool(processmetrics.MarkerRollup, true)
	out := consume(t, p, in)
	rms := out.ResourceMetrics()
	require.Equal(t, 2, rms.Len())
	for i := 0; i < rms.Len(); i++ {
		for _, marker := range processmetrics.Markers {
			_, ok := rms.At(i).Resource().Attributes().Get(marker)
			assert.False(t, ok, "marker %s left on resource %d", marker, i)
		}
	}
	pid, _ := processmetrics.PID(rms.At(1).Resource())
	assert.Equal(t, int64(2), pid)
}

func TestHostsAreRankedApart(t *testing.T) {
	p, now := newTestProcessor(t, testConfig(func(c *Config) { c.K, c.RankBy = 1, []RankKey{RankCPU} }))
	start := t0.Add(-time.Hour)
	out := consume(t, p, scrape(*now,
		testProc{pid: 1, exe: "a", start: start, cpu: 3600, host: "web-1"},
		testProc{pid: 1, exe: "b", start: start, cpu: 36, host: "web-2"},
		testProc{pid: 2, exe: "c", start: start, cpu: 1800, host: "web-1"},
		testProc{pid: 2, exe: "d", start: start, cpu: 3.6, host: "web-2"},
	))
	var kept []string
	rms := out.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if _, marked := rms.At(i).Resource().Attributes().Get(processmetrics.MarkerKept); marked {
			exe, _ := rms.At(i).Resource().Attributes().Get(processmetrics.AttrExecutableName)
			kept = append(kept, exe.Str())
		}
	}
	assert.ElementsMatch(t, []string{"a", "b"}, kept, "each host keeps its own top 1")
	assert.Len(t, p.procs, 4, "the same PID on two hosts is two processes")
	assert.Len(t, p.hosts, 2)
}

func TestEvictsStateNotSeenForTTL(t *testing.T) {
	p, now := newTestProcessor(t, testConfig(func(c *Config) { c.ProcessTTL = time.Minute }))
	var procs []testProc
	for pid := int64(1); pid <= 100; pid++ {
		procs = append(procs, testProc{pid: pid, exe: "bash", start: t0.Add(-time.Hour), host: "old"})
	}
	consume(t, p, scrape(*now, procs...))
	require.Len(t, p.procs, 100)

	*now = now.Add(2 * time.Minute)
	consume(t, p, scrape(*now, testProc{pid: 500, exe: "bash", start: t0, host: "new"}))
	assert.Len(t, p.procs, 1, "processes unseen for longer than process_ttl must be evicted")
	assert.Len(t, p.hosts, 1, "hosts unseen for longer than process_ttl must be evicted")
}

func TestConcurrentConsumers(t *testing.T) {
	sink := &consumertest.MetricsSink{}
	cfg := testConfig(func(c *Config) { c.K = 2 })
	p, err := NewFactory().CreateMetrics(t.Context(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context(), hostWith{&recorder{}}))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := fmt.Sprintf("host-%d", g%3)
			for i := 0; i < 50; i++ {
				at := t0.Add(time.Duration(i) * time.Second)
				var procs []testProc
				for pid := int64(1); pid <= 10; pid++ {
					procs = append(procs, testProc{pid: pid, exe: "w", start: t0.Add(-time.Hour), cpu: float64(pid * int64(i)), rss: pid * mb, host: host})
				}
				assert.NoError(t, p.ConsumeMetrics(context.Background(), scrape(at, procs...)))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Shutdown(context.Background()))
	require.Len(t, sink.AllMetrics(), 8*50)
	for _, md := range sink.AllMetrics() {
		kept := keptPIDs(md)
		assert.GreaterOrEqual(t, len(kept), 2, "top 2 by cpu and memory coincide: 9 and 10")
		assert.LessOrEqual(t, len(kept), cfg.keptCap())
		assert.Subset(t, kept, []int64{9, 10})
	}
}

func TestReportsDecisionsAndTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.ID = component.NewIDWithName(metadata.Type, "candidate")

	cfg := testConfig(func(c *Config) { c.K, c.RankBy, c.ExitAfter = 1, []RankKey{RankCPU}, 2 })
	p, err := NewFactory().CreateMetrics(t.Context(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	rec := &recorder{}
	require.NoError(t, p.Start(t.Context(), hostWith{rec}))

	start := t0.Add(-100 * time.Second)
	a := testProc{pid: 1, exe: "a", start: start, cpu: 200, rss: 10 * mb}
	b := testProc{pid: 2, exe: "b", start: start, cpu: 100, rss: 20 * mb}
	c := testProc{pid: 3, exe: "c", start: start, cpu: 10, rss: 30 * mb}
	db := testProc{pid: 4, exe: "postgres", start: start, cpu: 1000, critical: "databases"}
	// Scrape 1: a kept, b and c rolled up. Scrape 2: b overtakes a, which is
	// held. Scrape 3: a has been out twice and leaves.
	for i, step := range []struct{ a, b float64 }{{0, 0}, {1, 20}, {1, 20}} {
		a.cpu, b.cpu = a.cpu+step.a, b.cpu+step.b
		require.NoError(t, p.ConsumeMetrics(t.Context(), scrape(t0.Add(time.Duration(i)*10*time.Second), a, b, c, db)))
	}
	require.NoError(t, p.Shutdown(context.Background()))

	assert.Equal(t, set.ID, rec.source)
	require.Len(t, rec.batches, 3)
	mib := int64(mb)
	assert.Equal(t, []decision.Record{
		{PID: 1, Executable: "a", Outcome: decision.Kept, Rank: 1, RankBy: "cpu", CPURate: 2, MemoryRSS: 10 * mib},
		{PID: 2, Executable: "b", Outcome: decision.RolledUp, Rank: 2, RankBy: "cpu", CPURate: 1, MemoryRSS: 20 * mib},
		{PID: 3, Executable: "c", Outcome: decision.RolledUp, Rank: 3, RankBy: "cpu", CPURate: 0.1, MemoryRSS: 30 * mib},
	}, rec.batches[0])
	assert.Equal(t, []decision.Record{
		{PID: 1, Executable: "a", Outcome: decision.Kept, Rank: 2, RankBy: "cpu", CPURate: 0.1, MemoryRSS: 10 * mib, OutStreak: 1},
		{PID: 2, Executable: "b", Outcome: decision.Kept, Rank: 1, RankBy: "cpu", CPURate: 2, MemoryRSS: 20 * mib},
		{PID: 3, Executable: "c", Outcome: decision.RolledUp, Rank: 3, RankBy: "cpu", MemoryRSS: 30 * mib},
	}, rec.batches[1])
	assert.Equal(t, decision.RolledUp, rec.batches[2][0].Outcome, "a leaves after exit_after scrapes out")

	metadatatest.AssertEqualProcessorProcessTopkProcessesKept(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1 + 2 + 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessTopkProcessesRolledUp(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2 + 1 + 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessTopkKeptChanges(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessTopkK(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessTopkTracked(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 3}}, metricdatatest.IgnoreTimestamp())
}

func TestReportsDroppedTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	rec := &recorder{}

	cfg := testConfig(func(c *Config) { c.K, c.RankBy, c.Others = 1, []RankKey{RankMemory}, OthersDrop })
	p, err := NewFactory().CreateMetrics(t.Context(), set, cfg, consumertest.NewNop())
	require.NoError(t, err)
	require.NoError(t, p.Start(t.Context(), hostWith{rec}))
	require.NoError(t, p.ConsumeMetrics(t.Context(), scrape(t0,
		testProc{pid: 1, exe: "a", start: t0, rss: 3 * mb, host: "h"},
		testProc{pid: 2, exe: "b", start: t0, rss: 2 * mb, host: "h"},
		testProc{pid: 3, exe: "c", start: t0, rss: 1 * mb, host: "h"},
	)))
	require.NoError(t, p.Shutdown(context.Background()))

	metadatatest.AssertEqualProcessorProcessTopkProcessesDropped(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessTopkProcessesKept(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 1}}, metricdatatest.IgnoreTimestamp())
	outcomes := map[int64]decision.Outcome{}
	for _, r := range rec.last() {
		assert.Equal(t, "h", r.Host)
		outcomes[r.PID] = r.Outcome
	}
	assert.Equal(t, map[int64]decision.Outcome{1: decision.Kept, 2: decision.Dropped, 3: decision.Dropped}, outcomes)
}
