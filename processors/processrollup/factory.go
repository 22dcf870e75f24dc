package processrollup // import "github.com/phoenix/platform/processors/processrollup"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/phoenix/platform/processors/internal/stateful"
	"github.com/phoenix/platform/processors/processrollup/internal/metadata"
)

// NewFactory returns the process_rollup processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		GroupBy:    []string{},
		ProcessTTL: 5 * time.Minute,
		MaxGroups:  1000,
	}
}

func createMetrics(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	p, err := newProcessor(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return stateful.NewMetrics(next, stateful.Funcs{
		Process:  stateful.Simple(p.processMetrics),
		Start:    p.start,
		Shutdown: p.shutdown,
	}), nil
}
