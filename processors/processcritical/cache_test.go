package processcritical

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/processcritical/internal/metadata"
)

// TestPositionalLookupFollowsChurnAndOrder feeds batches whose processes
// come and go, change order, exec and reuse PIDs, and checks every mark
// against the rules evaluated afresh: finding entries by their position in
// the previous batch never serves a process another's entry.
func TestPositionalLookupFollowsChurnAndOrder(t *testing.T) {
	cfg := &Config{ProcessTTL: time.Minute, Rules: DefaultRules()}
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	fresh, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)

	type live struct {
		pid   int64
		exe   string
		start time.Time
	}
	names := []string{"postgres", "bash", "nginx", "python3", "sshd", "sleep"}
	rng := rand.New(rand.NewPCG(7, 11))
	var procs []live
	for pid := int64(1); pid <= 50; pid++ {
		procs = append(procs, live{pid, names[rng.IntN(len(names))], now.Add(-time.Hour)})
	}
	for scrape := range 40 {
		now = now.Add(10 * time.Second)
		switch scrape % 4 {
		case 1: // some exit, some start (PIDs reused)
			procs = procs[3:]
			for range 3 {
				procs = append(procs, live{int64(rng.IntN(60) + 1), names[rng.IntN(len(names))], now})
			}
		case 2: // an exec under the same PID and start
			procs[rng.IntN(len(procs))].exe = names[rng.IntN(len(names))]
		case 3: // another order
			rng.Shuffle(len(procs), func(i, j int) { procs[i], procs[j] = procs[j], procs[i] })
		}
		md := pmetric.NewMetrics()
		for _, lp := range procs {
			pr := processmetrics.Process{PID: lp.pid, ExecutableName: lp.exe, CommandLine: lp.exe, Owner: "root", Start: pcommon.NewTimestampFromTime(lp.start)}
			pr.AppendTo(md.ResourceMetrics(), pcommon.NewTimestampFromTime(now))
		}
		_, err := p.processMetrics(t.Context(), md)
		require.NoError(t, err)
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			attrs := rms.At(i).Resource().Attributes()
			want, _ := fresh.matcher.Match(attrs)
			got := processmetrics.StringAttr(attrs, processmetrics.MarkerCriticalRule)
			assert.Equal(t, want, got, "scrape %d, pid %d", scrape, procs[i].pid)
		}
	}
}
