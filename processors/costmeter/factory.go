package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/phoenix/platform/processors/costmeter/internal/metadata"
	"github.com/phoenix/platform/processors/processcritical"
)

const (
	defaultActiveSeriesWindow = 5 * time.Minute
	// defaultMaxTrackedSeries covers ~28,000 processes at 7 series each, with
	// a window's churn on top; the set costs about 40 bytes per series.
	defaultMaxTrackedSeries = 200_000

	defaultReference          = "baseline"
	defaultNotableCPU         = 0.05
	defaultNotableMemoryShare = 0.05
	defaultMaxExamples        = 5
)

// NewFactory returns the cost_meter processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		Critical:           processcritical.DefaultRules(),
		ActiveSeriesWindow: defaultActiveSeriesWindow,
		MaxTrackedSeries:   defaultMaxTrackedSeries,
		Fidelity: FidelityConfig{
			Reference:          defaultReference,
			NotableCPU:         defaultNotableCPU,
			NotableMemoryShare: defaultNotableMemoryShare,
			MaxExamples:        defaultMaxExamples,
		},
	}
}

func createMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	m, err := newMeter(set, cfg.(*Config))
	if err != nil {
		return nil, err
	}
	return newProcessor(ctx, set, cfg, next, m)
}

func newProcessor(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics, m *meter) (processor.Metrics, error) {
	return processorhelper.NewMetrics(ctx, set, cfg, next, m.processMetrics,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		processorhelper.WithStart(m.start),
		processorhelper.WithShutdown(m.shutdown))
}
