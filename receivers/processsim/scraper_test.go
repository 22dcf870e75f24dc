package processsim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/receivers/processsim/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/internal/metadatatest"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeClock is the simulated wall clock a test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

// startedScraper returns a started scraper over cfg on a fake clock at t0.
func startedScraper(t *testing.T, cfg *Config) (*simScraper, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: t0}
	s, err := newSimScraper(receivertest.NewNopSettings(metadata.Type), cfg, clock.now)
	require.NoError(t, err)
	require.NoError(t, s.start(t.Context(), nil))
	t.Cleanup(func() { require.NoError(t, s.shutdown(context.Background())) })
	return s, clock
}

func receivertestSettings() receiver.Settings { return receivertest.NewNopSettings(metadata.Type) }

func configFor(profile string, seed uint64) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Profile, cfg.Seed = profile, seed
	return cfg
}

func scrapeAt(t *testing.T, s *simScraper, clock *fakeClock, at time.Time) pmetric.Metrics {
	t.Helper()
	clock.t = at
	md, err := s.scrape(t.Context())
	require.NoError(t, err)
	return md
}

func marshal(t *testing.T, md pmetric.Metrics) string {
	t.Helper()
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	return string(b)
}

func TestSameSeedSameScrapes(t *testing.T) {
	a, clockA := startedScraper(t, configFor(profiles.HighChurn, 42))
	b, clockB := startedScraper(t, configFor(profiles.HighChurn, 42))
	c, clockC := startedScraper(t, configFor(profiles.HighChurn, 43))
	for i := 1; i <= 6; i++ {
		at := t0.Add(time.Duration(i) * 10 * time.Second)
		ja := marshal(t, scrapeAt(t, a, clockA, at))
		require.Equal(t, ja, marshal(t, scrapeAt(t, b, clockB, at)), "scrape %d differs for the same seed", i)
		assert.NotEqual(t, ja, marshal(t, scrapeAt(t, c, clockC, at)), "scrape %d is the same for another seed", i)
	}
}

// procKey survives PID reuse: a PID and the process's start time.
type procKey struct {
	pid   int64
	start pcommon.Timestamp
}

func TestScrapesAreConsistentOverTime(t *testing.T) {
	s, clock := startedScraper(t, configFor(profiles.Realistic, 9))
	spec := s.resolved.Spec
	type seen struct {
		cpu float64
		ts  pcommon.Timestamp
	}
	last := map[procKey]seen{}
	for i := 1; i <= 12; i++ {
		scrapeTime := t0.Add(time.Duration(i) * 10 * time.Second)
		md := scrapeAt(t, s, clock, scrapeTime)
		rms := md.ResourceMetrics()
		require.Equal(t, spec.Processes, rms.Len(), "churn keeps the population size")

		names := map[string]bool{}
		pids := map[int64]bool{}
		for j := 0; j < rms.Len(); j++ {
			rm := rms.At(j)
			r, ok := processmetrics.Read(rm)
			require.True(t, ok)
			assert.False(t, pids[r.Key.PID], "pid %d emitted twice", r.Key.PID)
			pids[r.Key.PID] = true
			name, _ := rm.Resource().Attributes().Get(processmetrics.AttrExecutableName)
			names[name.Str()] = true

			want := pcommon.NewTimestampFromTime(scrapeTime) + pcommon.Timestamp(r.Key.PID)
			assert.Equal(t, want, r.Time, "pid %d is stamped at the scrape time plus its pid in ns", r.Key.PID)
			assert.Less(t, r.Start, r.Time)
			k := procKey{r.Key.PID, r.Start}
			if prev, ok := last[k]; ok {
				assert.GreaterOrEqual(t, r.CPUSeconds, prev.cpu, "cpu time of pid %d went down", r.Key.PID)
				assert.Equal(t, 10*time.Second, time.Duration(r.Time-prev.ts), "pid %d: the interval between its stamps is exact", r.Key.PID)
			}
			last[k] = seen{r.CPUSeconds, r.Time}
		}
		for _, critical := range spec.CriticalNames {
			assert.True(t, names[critical], "critical process %s missing at scrape %d", critical, i)
		}
	}
}

// TestChurnFollowsTheProfile runs each profile for one simulated minute,
// scraping every second, and checks the churn rate the profile promises.
func TestChurnFollowsTheProfile(t *testing.T) {
	tests := []struct {
		profile              string
		minRate, maxRate     float64
		minProcs, maxProcs   int
		everyStartIsObserved bool // lives outlast the scrape interval
	}{
		{profiles.Realistic, 0.05, 0.1, 50, 200, true},
		{profiles.HighCardinality, 0.1, 0.5, 1000, 2000, true},
		{profiles.HighChurn, 20, 30, 60, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			s, clock := startedScraper(t, configFor(tt.profile, 1234))
			rate := s.resolved.Spec.StartsPerSecond
			require.GreaterOrEqual(t, rate, tt.minRate)
			require.LessOrEqual(t, rate, tt.maxRate)

			collect := func(md pmetric.Metrics) map[procKey]bool {
				keys := map[procKey]bool{}
				rms := md.ResourceMetrics()
				for j := 0; j < rms.Len(); j++ {
					r, _ := processmetrics.Read(rms.At(j))
					keys[procKey{r.Key.PID, r.Start}] = true
				}
				return keys
			}
			present := collect(scrapeAt(t, s, clock, t0))
			observedStarts := 0
			for sec := 1; sec <= 60; sec++ {
				now := collect(scrapeAt(t, s, clock, t0.Add(time.Duration(sec)*time.Second)))
				assert.GreaterOrEqual(t, len(now), tt.minProcs)
				assert.LessOrEqual(t, len(now), tt.maxProcs)
				for k := range now {
					if !present[k] {
						observedStarts++
					}
				}
				present = now
			}

			starts := s.pop.Stats().Starts
			assert.InDelta(t, rate*60, float64(starts), 1, "starts over a minute")
			assert.Equal(t, starts, s.pop.Stats().Exits, "every start replaces an exit")
			if tt.everyStartIsObserved {
				assert.Equal(t, starts, observedStarts)
			} else {
				assert.Positive(t, observedStarts)
				assert.LessOrEqual(t, observedStarts, starts)
			}
		})
	}
}

func TestTelemetryCountsScrapesProcessesAndChurn(t *testing.T) {
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })

	cfg := configFor(profiles.Custom, 3)
	cfg.Custom = profiles.Params{Processes: ptr(20), StartsPerSecond: ptr(2.0)}
	clock := &fakeClock{t: t0}
	s, err := newSimScraper(metadatatest.NewSettings(tt), cfg, clock.now)
	require.NoError(t, err)
	require.NoError(t, s.start(t.Context(), nil))
	defer func() { require.NoError(t, s.shutdown(t.Context())) }()

	for i := 1; i <= 3; i++ {
		scrapeAt(t, s, clock, t0.Add(time.Duration(i)*5*time.Second))
	}
	opts := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}
	metadatatest.AssertEqualReceiverProcessSimScrapes(t, tt, []metricdata.DataPoint[int64]{{Value: 3}}, opts...)
	metadatatest.AssertEqualReceiverProcessSimProcesses(t, tt, []metricdata.DataPoint[int64]{{Value: 60}}, opts...)
	metadatatest.AssertEqualReceiverProcessSimProcessStarts(t, tt, []metricdata.DataPoint[int64]{{Value: 30}}, opts...)
	metadatatest.AssertEqualReceiverProcessSimProcessExits(t, tt, []metricdata.DataPoint[int64]{{Value: 30}}, opts...)
}

func TestScrapeBeforeStartFails(t *testing.T) {
	s, err := newSimScraper(receivertest.NewNopSettings(metadata.Type), configFor(profiles.Realistic, 0), time.Now)
	require.NoError(t, err)
	_, err = s.scrape(t.Context())
	assert.ErrorIs(t, err, errNotStarted)
}

func TestNewSimScraperRejectsAnInvalidConfig(t *testing.T) {
	_, err := newSimScraper(receivertest.NewNopSettings(metadata.Type), configFor("huge", 0), time.Now)
	assert.ErrorContains(t, err, "unknown profile")
}
