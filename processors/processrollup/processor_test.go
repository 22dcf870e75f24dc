package processrollup

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/goldentest"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
)

// The golden inputs were built once with processmetrics.Process.AppendTo, in
// the scraper's shape, two scrapes 10s apart:
//
//   - per_host (group_by: []): hosts web-1 (state) and web-2 (cpu.mode), a
//     critical-marked postgres and an unmarked nginx kept, bash and java
//     members throughout, python3 rolled→kept, node kept→rolled, sleep a
//     member that exits, curl born between the scrapes, a PID reused on web-2
//     by a newborn, a container.id on one member only, and a non-process
//     resource.
//   - by_owner (group_by: [process.owner]): no host.name; groups per owner,
//     one (backup) whose only member exits, a critical sshd.
//   - by_executable (group_by: [process.executable.name]): groups keep the
//     executable name; python3 leaves its group for kept.
//
// expected.yaml is the output of the last scrape. Start timestamps are
// compared: the rollup's start time is part of the contract.
func TestGolden(t *testing.T) {
	for _, name := range []string{"per_host", "by_owner", "by_executable"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			cfg := createDefaultConfig().(*Config)
			if cm, err := confmaptest.LoadConf(filepath.Join(dir, "config.yaml")); err == nil {
				require.NoError(t, cm.Unmarshal(cfg))
			}
			require.NoError(t, cfg.Validate())
			p, sink := newTestProcessor(t, cfg, processortest.NewNopSettings(metadata.Type))
			require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

			inputs, err := filepath.Glob(filepath.Join(dir, "input_*.yaml"))
			require.NoError(t, err)
			require.NotEmpty(t, inputs)
			for _, in := range inputs {
				require.NoError(t, p.ConsumeMetrics(t.Context(), goldentest.Read(t, in)))
			}
			require.Len(t, sink.AllMetrics(), len(inputs))
			goldentest.Compare(t, filepath.Join(dir, "expected.yaml"), sink.AllMetrics()[len(inputs)-1])
		})
	}
}

func newTestProcessor(t *testing.T, cfg *Config, set processor.Settings) (processor.Metrics, *consumertest.MetricsSink) {
	t.Helper()
	sink := &consumertest.MetricsSink{}
	p, err := NewFactory().CreateMetrics(t.Context(), set, cfg, sink)
	require.NoError(t, err)
	return p, sink
}

func TestFirstBatchOnlySetsBaselines(t *testing.T) {
	p, clock := newRollup(t, nil)
	// A collector (re)start: lifetime totals must not land in the rollup.
	out := consume(t, p, clock, t0, scrape(t0, member(1, "web-1", 100, 1000), member(2, "web-1", 50, 500)))
	g := rollups(out)["host=web-1"]
	require.NotZero(t, g.Resource().Attributes().Len())
	assert.Zero(t, cpuUser(t, g))
	assert.Equal(t, int64(2), count(t, g))
	dp := point(t, g, processmetrics.MetricCPUTime, processmetrics.AttrState, "user")
	assert.Equal(t, pcommon.NewTimestampFromTime(t0), dp.StartTimestamp(), "a new host's accumulators start at its first batch")
}

func TestIncrementsAcrossMembershipChanges(t *testing.T) {
	p, clock := newRollup(t, nil)
	t1, t2, t3 := t0.Add(10*time.Second), t0.Add(20*time.Second), t0.Add(30*time.Second)
	consume(t, p, clock, t0, scrape(t0, member(1, "h", 10, 0), member(2, "h", 20, 0).kept(), member(3, "h", 30, 0)))
	// 1 stays, 2 kept→rolled, 3 rolled→kept, 4 born after t0.
	out := consume(t, p, clock, t1, scrape(t1,
		member(1, "h", 11, 0), member(2, "h", 22, 0), member(3, "h", 33, 0).kept(),
		member(4, "h", 0.5, 0).bornAt(t0.Add(5*time.Second))))
	g := rollups(out)["host=h"]
	assert.InDelta(t, 1+2+3+0.5, cpuUser(t, g), 1e-9)
	assert.Equal(t, int64(3), count(t, g))

	// A process first seen now but born before the previous batch only sets
	// its baseline: its past was never part of the input's increments.
	out = consume(t, p, clock, t2, scrape(t2,
		member(1, "h", 12, 0), member(2, "h", 22, 0), member(3, "h", 33, 0).kept(),
		member(4, "h", 0.5, 0).bornAt(t0.Add(5*time.Second)), member(5, "h", 99, 0)))
	assert.InDelta(t, 6.5+1, cpuUser(t, rollups(out)["host=h"]), 1e-9)

	// A decrease under the same start time is a reset: the new value is the
	// increment.
	out = consume(t, p, clock, t3, scrape(t3, member(1, "h", 2, 0), member(2, "h", 22, 0)))
	g = rollups(out)["host=h"]
	assert.InDelta(t, 7.5+2, cpuUser(t, g), 1e-9)
	assert.Equal(t, pcommon.NewTimestampFromTime(t0),
		point(t, g, processmetrics.MetricCPUTime, processmetrics.AttrState, "user").StartTimestamp(), "the start time moved")
}

func TestPIDReuseCountsTheNewProcessOnly(t *testing.T) {
	p, clock := newRollup(t, nil)
	t1 := t0.Add(10 * time.Second)
	consume(t, p, clock, t0, scrape(t0, member(7, "h", 500, 5000)))
	// PID 7 is now another process, born between the scrapes: its full value
	// counts, the old process's value is no baseline for it.
	out := consume(t, p, clock, t1, scrape(t1, member(7, "h", 2, 20).bornAt(t0.Add(3*time.Second))))
	g := rollups(out)["host=h"]
	assert.InDelta(t, 2, cpuUser(t, g), 1e-9)
	assert.Equal(t, int64(20), point(t, g, processmetrics.MetricDiskIO, processmetrics.AttrDirection, "read").IntValue())
}

func TestGroupOutlivesItsLastMemberByOneBatch(t *testing.T) {
	p, clock := newRollup(t, nil)
	t1, t2 := t0.Add(10*time.Second), t0.Add(20*time.Second)
	consume(t, p, clock, t0, scrape(t0, member(1, "h", 10, 0)))
	// The member is kept now: the group is emitted once more, with its last
	// increment and no members.
	out := consume(t, p, clock, t1, scrape(t1, member(1, "h", 14, 0).kept()))
	g := rollups(out)["host=h"]
	assert.InDelta(t, 4, cpuUser(t, g), 1e-9)
	assert.Zero(t, count(t, g))
	assert.Zero(t, point(t, g, processmetrics.MetricMemoryUsage, "", "").IntValue(), "no member: nothing in memory")
	assert.Equal(t, pcommon.NewTimestampFromTime(t1), point(t, g, MetricProcessCount, "", "").Timestamp())

	out = consume(t, p, clock, t2, scrape(t2, member(1, "h", 15, 0).kept()))
	assert.Empty(t, rollups(out), "a group without members two batches running is not emitted")
}

func TestCriticalIsNeverRolledUp(t *testing.T) {
	p, clock := newRollup(t, nil)
	pg := member(5, "h", 10, 0)
	pg.critical = true // both markers: process_critical wins
	out := consume(t, p, clock, t0, scrape(t0, pg, member(6, "h", 1, 0)))
	require.Equal(t, 2, out.ResourceMetrics().Len())
	kept := out.ResourceMetrics().At(0)
	pid, _ := processmetrics.PID(kept.Resource())
	assert.Equal(t, int64(5), pid)
	for _, m := range processmetrics.Markers {
		_, found := kept.Resource().Attributes().Get(m)
		assert.False(t, found, "marker %s left on a kept process", m)
	}
	assert.Equal(t, int64(1), count(t, rollups(out)["host=h"]))
}

func TestRollupMarkerValues(t *testing.T) {
	for _, tc := range []struct {
		name   string
		set    func(pcommon.Map)
		member bool
	}{
		{"bool true", func(m pcommon.Map) { m.PutBool(processmetrics.MarkerRollup, true) }, true},
		{"string true", func(m pcommon.Map) { m.PutStr(processmetrics.MarkerRollup, "true") }, true},
		{"bool false", func(m pcommon.Map) { m.PutBool(processmetrics.MarkerRollup, false) }, false},
		{"absent", func(pcommon.Map) {}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, clock := newRollup(t, nil)
			md := scrape(t0, member(1, "h", 1, 0).kept())
			tc.set(md.ResourceMetrics().At(0).Resource().Attributes())
			out := consume(t, p, clock, t0, md)
			assert.Equal(t, tc.member, len(rollups(out)) == 1)
			assert.Equal(t, 1, out.ResourceMetrics().Len())
			_, found := out.ResourceMetrics().At(0).Resource().Attributes().Get(processmetrics.MarkerRollup)
			assert.False(t, found)
		})
	}
}

func TestGroupByAttributeAbsentOnSomeMembers(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.GroupBy = []string{"service.name"}
	p, clock := newRollup(t, cfg)
	md := scrape(t0, member(1, "", 1, 0), member(2, "", 1, 0))
	md.ResourceMetrics().At(0).Resource().Attributes().PutStr("service.name", "checkout")
	rec := &recorder{}
	p.recorder = rec
	out := consume(t, p, clock, t0, md)

	groups := map[string]int64{}
	rms := out.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		attrs := rms.At(i).Resource().Attributes()
		exe, _ := attrs.Get(processmetrics.AttrExecutableName)
		assert.Equal(t, OtherExecutable, exe.Str())
		svc := "(absent)"
		if v, ok := attrs.Get("service.name"); ok {
			svc = v.Str()
		}
		groups[svc] = count(t, rms.At(i))
	}
	assert.Equal(t, map[string]int64{"checkout": 1, "(absent)": 1}, groups)
	assert.ElementsMatch(t, []string{"service.name=checkout", OtherExecutable}, []string{rec.records[0].Group, rec.records[1].Group})
}
