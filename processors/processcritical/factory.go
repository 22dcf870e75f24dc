package processcritical // import "github.com/phoenix/platform/processors/processcritical"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/phoenix/platform/processors/internal/stateful"
	"github.com/phoenix/platform/processors/processcritical/internal/metadata"
)

// NewFactory returns the process_critical processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		Rules:      DefaultRules(),
		ProcessTTL: 5 * time.Minute,
	}
}

func createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return stateful.NewMetrics(next, stateful.Funcs{
		Process:  p.process,
		Start:    p.start,
		Shutdown: p.shutdown,
		Done:     p.done,
	}), nil
}
