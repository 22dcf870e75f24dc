package processsim // import "github.com/phoenix/platform/receivers/processsim"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/scraper"
	"go.opentelemetry.io/collector/scraper/scraperhelper"

	"github.com/phoenix/platform/receivers/processsim/internal/metadata"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// NewFactory returns the process_sim receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(
		metadata.Type,
		createDefaultConfig,
		receiver.WithMetrics(createMetrics, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	cc := scraperhelper.NewDefaultControllerConfig()
	cc.CollectionInterval = 10 * time.Second
	return &Config{
		ControllerConfig: cc,
		Profile:          profiles.Realistic,
	}
}

func createMetrics(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	return newReceiver(set, cfg.(*Config), next)
}

// newReceiver wires the simulation into the collector's scraper controller,
// which owns the ticker, the scrape timeout and the scraper's own telemetry.
// Tests pass a ticker channel to drive scrapes.
func newReceiver(set receiver.Settings, cfg *Config, next consumer.Metrics, opts ...scraperhelper.ControllerOption) (receiver.Metrics, error) {
	s, err := newSimScraper(set, cfg, time.Now)
	if err != nil {
		return nil, err
	}
	sc, err := scraper.NewMetrics(s.scrape, scraper.WithStart(s.start), scraper.WithShutdown(s.shutdown))
	if err != nil {
		return nil, err
	}
	opts = append([]scraperhelper.ControllerOption{scraperhelper.AddMetricsScraper(metadata.Type, sc)}, opts...)
	return scraperhelper.NewMetricsController(&cfg.ControllerConfig, set, next, opts...)
}
