package population

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestSameSeedSameScrapes(t *testing.T) {
	spec := Spec{Processes: 50, Daemons: 5, StartsPerSecond: 2, BusyFraction: 0.1, BusyCores: 1, IdleCores: 0.01, CPUNoise: 0.1}
	a, err := New(spec, 7, t0)
	require.NoError(t, err)
	b, err := New(spec, 7, t0)
	require.NoError(t, err)
	for i := 1; i <= 5; i++ {
		ts := t0.Add(time.Duration(i) * 10 * time.Second)
		ma, mb := a.Scrape(ts), b.Scrape(ts)
		ja, _ := (&pmetric.JSONMarshaler{}).MarshalMetrics(ma)
		jb, _ := (&pmetric.JSONMarshaler{}).MarshalMetrics(mb)
		require.Equal(t, string(ja), string(jb), "scrape %d differs", i)
	}
	c, err := New(spec, 8, t0)
	require.NoError(t, err)
	jc, _ := (&pmetric.JSONMarshaler{}).MarshalMetrics(c.Scrape(t0.Add(10 * time.Second)))
	ja, _ := (&pmetric.JSONMarshaler{}).MarshalMetrics(func() pmetric.Metrics { p, _ := New(spec, 7, t0); return p.Scrape(t0.Add(10 * time.Second)) }())
	assert.NotEqual(t, string(ja), string(jc), "different seeds gave identical scrapes")
}

func TestChurnKeepsSizeAndRate(t *testing.T) {
	pop, err := New(Spec{Processes: 100, Daemons: 10, StartsPerSecond: 3}, 1, t0)
	require.NoError(t, err)
	pop.Advance(t0.Add(100 * time.Second))
	assert.Equal(t, 100, pop.Len())
	assert.Equal(t, 300, pop.Stats().Starts)
	assert.Equal(t, 300, pop.Stats().Exits)
}

func TestCountersNeverDecreaseAndDaemonsSurvive(t *testing.T) {
	pop, err := New(Spec{Processes: 40, Daemons: 3, CriticalNames: []string{"postgres", "nginx"}, StartsPerSecond: 5, BusyFraction: 0.2, BusyCores: 2, IdleCores: 0.05}, 3, t0)
	require.NoError(t, err)
	type key struct {
		pid   int64
		start uint64
	}
	last := map[key]float64{}
	for i := 1; i <= 20; i++ {
		pop.Advance(t0.Add(time.Duration(i) * 5 * time.Second))
		names := map[string]bool{}
		pop.Each(func(p *processmetrics.Process) {
			names[p.ExecutableName] = true
			k := key{p.PID, uint64(p.Start)}
			cpu := p.CPUUser + p.CPUSystem
			assert.GreaterOrEqual(t, cpu, last[k], "cpu time of pid %d went down", p.PID)
			last[k] = cpu
		})
		assert.True(t, names["postgres"] && names["nginx"], "critical daemons exited at step %d", i)
	}
}

func TestSmallPIDMaxReusesPIDs(t *testing.T) {
	pop, err := New(Spec{Processes: 20, StartsPerSecond: 10, PIDMax: 40}, 5, t0)
	require.NoError(t, err)
	pop.Advance(t0.Add(10 * time.Second))
	assert.Positive(t, pop.Stats().PIDReuses)
	seen := map[int64]bool{}
	pop.Each(func(p *processmetrics.Process) {
		assert.False(t, seen[p.PID], "pid %d live twice", p.PID)
		seen[p.PID] = true
	})
}

func TestScrapeHasScraperShape(t *testing.T) {
	pop, err := New(Spec{Processes: 3}, 1, t0)
	require.NoError(t, err)
	md := pop.Scrape(t0.Add(time.Second))
	require.Equal(t, 3, md.ResourceMetrics().Len())
	r, ok := processmetrics.Read(md.ResourceMetrics().At(0))
	require.True(t, ok)
	assert.Equal(t, 7, r.Series)
	assert.True(t, r.HasCPU)
	assert.True(t, r.HasMemory)
	assert.Less(t, r.Start, r.Time)
}

func TestSpecValidation(t *testing.T) {
	for _, s := range []Spec{
		{},
		{Processes: 5, Daemons: 6},
		{Processes: 5, Daemons: 1, CriticalNames: []string{"a", "b"}},
		{Processes: 5, Daemons: 5, StartsPerSecond: 1},
		{Processes: 5, BusyFraction: 2},
		{Processes: 5, CPUNoise: 1},
		{Processes: 5, MinMemoryMB: 10, MaxMemoryMB: 1},
		{Processes: 50, PIDMax: 20},
	} {
		assert.Error(t, s.Validate(), "%+v", s)
	}
}

func TestEachMemberExposesBehaviour(t *testing.T) {
	spec := Spec{Processes: 30, Daemons: 2, CriticalNames: []string{"postgres"}, BusyFraction: 0.5, BusyCores: 2, IdleCores: 0.01}
	pop, err := New(spec, 11, t0)
	require.NoError(t, err)
	var members []Member
	pop.EachMember(func(m Member) { members = append(members, m) })
	require.Len(t, members, 30)
	assert.Equal(t, "postgres", members[0].Process.ExecutableName)
	assert.True(t, members[0].Daemon && members[1].Daemon)
	busy := 0
	for i, m := range members {
		assert.Equal(t, i < 2, m.Daemon, "member %d", i)
		assert.GreaterOrEqual(t, m.Cores, 0.0)
		assert.LessOrEqual(t, m.Cores, spec.BusyCores)
		if m.Cores > spec.IdleCores {
			busy++
		}
	}
	assert.Positive(t, busy, "half the members should be busy")

	// Members report the same processes Each does, in the same order.
	i := 0
	pop.Each(func(p *processmetrics.Process) {
		assert.Same(t, members[i].Process, p)
		i++
	})
}
