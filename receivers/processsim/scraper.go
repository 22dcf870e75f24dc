package processsim // import "github.com/phoenix/platform/receivers/processsim"

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver"
	"go.uber.org/zap"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/receivers/processsim/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/population"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// errNotStarted is returned by a scrape before Start, which the scraper
// controller never does.
var errNotStarted = errors.New("process_sim scraped before start")

// simScraper advances a simulated population to each scrape's wall-clock
// time and renders it. The scraper controller calls it from one goroutine.
type simScraper struct {
	resolved  profiles.Resolved
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	now       func() time.Time

	pop  *population.Population
	last population.Stats
}

func newSimScraper(set receiver.Settings, cfg *Config, now func() time.Time) (*simScraper, error) {
	resolved, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &simScraper{resolved: resolved, logger: set.Logger, telemetry: tb, now: now}, nil
}

// start creates the population as it stands now: the processes already
// running, started at various times in the past.
func (s *simScraper) start(context.Context, component.Host) error {
	pop, err := population.New(s.resolved.Spec, s.resolved.Seed, s.now())
	if err != nil {
		return err
	}
	s.pop, s.last = pop, population.Stats{}
	s.logger.Info("Simulating a process population",
		zap.String("profile", s.resolved.Profile),
		zap.Uint64("seed", s.resolved.Seed),
		zap.Int("processes", s.resolved.Spec.Processes),
		zap.Float64("starts_per_second", s.resolved.Spec.StartsPerSecond))
	return nil
}

func (s *simScraper) shutdown(context.Context) error {
	s.telemetry.Shutdown()
	return nil
}

func (s *simScraper) scrape(ctx context.Context) (pmetric.Metrics, error) {
	if s.pop == nil {
		return pmetric.NewMetrics(), errNotStarted
	}
	t := s.now()
	s.pop.Advance(t)
	md := pmetric.NewMetrics()
	render(s.pop, md.ResourceMetrics(), t)

	stats := s.pop.Stats()
	s.telemetry.ReceiverProcessSimScrapes.Add(ctx, 1)
	s.telemetry.ReceiverProcessSimProcesses.Add(ctx, int64(s.pop.Len()))
	s.telemetry.ReceiverProcessSimProcessStarts.Add(ctx, int64(stats.Starts-s.last.Starts))
	s.telemetry.ReceiverProcessSimProcessExits.Add(ctx, int64(stats.Exits-s.last.Exits))
	s.last = stats
	return md, nil
}

// render appends every live process as the real scraper would. The scraper
// stamps each process when it reads it; here each is stamped at the scrape
// time plus its PID in nanoseconds (under 5ms): distinct, ordered by PID like
// a walk of /proc, and the same offset every scrape, so rates computed
// between two scrapes stay exact.
func render(pop *population.Population, rms pmetric.ResourceMetricsSlice, t time.Time) {
	ts := pcommon.NewTimestampFromTime(t)
	rms.EnsureCapacity(rms.Len() + pop.Len())
	pop.Each(func(p *processmetrics.Process) {
		p.AppendTo(rms, ts+pcommon.Timestamp(p.PID))
	})
}
