package processtopk

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestCPUCoverageKeepsTheBusiestUntilTheShare(t *testing.T) {
	// Ten processes whose CPU rates add up to one core; PIDs in rate order.
	rates := []float64{0.5, 0.2, 0.1, 0.05, 0.05, 0.04, 0.03, 0.02, 0.005, 0.005}
	tests := []struct {
		name     string
		k, maxK  int
		coverage float64
		want     []int64
	}{
		{name: "the prefix that reaches the share", k: 1, maxK: 100, coverage: 0.75, want: []int64{1, 2, 3}},
		{name: "every process for all of it", k: 1, maxK: 100, coverage: 1, want: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{name: "at most max_k", k: 1, maxK: 4, coverage: 0.99, want: []int64{1, 2, 3, 4}},
		{name: "never fewer than k", k: 5, maxK: 100, coverage: 0.5, want: []int64{1, 2, 3, 4, 5}},
		{name: "off", k: 2, maxK: 100, coverage: 0, want: []int64{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, now := newTestProcessor(t, testConfig(func(c *Config) {
				c.K, c.MaxK, c.CPUCoverage, c.RankBy, c.ExitAfter = tt.k, tt.maxK, tt.coverage, []RankKey{RankCPU}, 1
			}))
			start := t0.Add(-100 * time.Second)
			at := func(s time.Time) []testProc {
				procs := make([]testProc, len(rates))
				for i, r := range rates {
					procs[i] = testProc{pid: int64(i + 1), exe: "app", start: start, cpu: r * s.Sub(start).Seconds(), rss: mb}
				}
				return procs
			}
			for n := range 3 {
				*now = t0.Add(time.Duration(n) * 10 * time.Second)
				out := consume(t, p, scrape(*now, at(*now)...))
				assert.Equal(t, tt.want, keptPIDs(out), "scrape %d", n+1)
			}
		})
	}
}
