package processtopk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/receivers/processsim/population"
)

// keptSeries counts the datapoints of the non-critical processes an output
// keeps.
func keptSeries(md pmetric.Metrics) int {
	n := 0
	ranked := carriesKept(md)
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		attrs := rms.At(i).Resource().Attributes()
		_, critical := attrs.Get(processmetrics.MarkerCriticalRule)
		rolled := handedToRollup(attrs, ranked)
		if r, ok := processmetrics.Read(rms.At(i)); ok && !critical && !rolled {
			n += r.Series
		}
	}
	return n
}

func TestBudgetSteersK(t *testing.T) {
	// Every simulated process has 7 series; with cpu and memory the top-k
	// union holds k to 2k processes.
	tests := []struct {
		name       string
		maxSeries  int
		minK, maxK int
		// finalK bounds where k settles.
		finalMin, finalMax int
	}{
		{name: "over budget lowers k", maxSeries: 70, minK: 2, maxK: 40, finalMin: 5, finalMax: 9},
		{name: "room raises k", maxSeries: 420, minK: 2, maxK: 40, finalMin: 30, finalMax: 40},
		{name: "k stops at max_k", maxSeries: 7000, minK: 2, maxK: 15, finalMin: 15, finalMax: 15},
		{name: "k stops at min_k", maxSeries: 7, minK: 3, maxK: 40, finalMin: 3, finalMax: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pop, err := population.New(population.Spec{
				Processes: 1000, BusyFraction: 0.1, BusyCores: 2, IdleCores: 0.05, CPUNoise: 0.1,
			}, 9, t0)
			require.NoError(t, err)
			p, now := newTestProcessor(t, testConfig(func(c *Config) {
				c.MaxSeries, c.MinK, c.MaxK = tt.maxSeries, tt.minK, tt.maxK
			}))
			k := p.initialK
			var ks []int
			for scrape := 0; scrape < 40; scrape++ {
				*now = t0.Add(time.Duration(scrape+1) * 10 * time.Second)
				out := consume(t, p, pop.Scrape(*now))
				next := p.hosts[""].k
				assert.LessOrEqual(t, abs(next-k), 1, "scrape %d: k moves one step at a time", scrape)
				assert.GreaterOrEqual(t, next, tt.minK)
				assert.LessOrEqual(t, next, tt.maxK)
				if scrape >= 30 && tt.minK < next && next < tt.maxK {
					assert.LessOrEqual(t, keptSeries(out), tt.maxSeries, "scrape %d: settled output over budget", scrape)
				}
				k = next
				ks = append(ks, k)
			}
			t.Logf("k per scrape: %v", ks)
			for _, k := range ks[30:] {
				assert.GreaterOrEqual(t, k, tt.finalMin)
				assert.LessOrEqual(t, k, tt.finalMax)
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
