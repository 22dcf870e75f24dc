package processtopk // import "github.com/phoenix/platform/processors/processtopk"

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"

	"github.com/phoenix/platform/processors/internal/stateful"
	"github.com/phoenix/platform/processors/processtopk/internal/metadata"
)

// NewFactory returns the process_topk processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(
		metadata.Type,
		createDefaultConfig,
		processor.WithMetrics(createMetrics, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	return &Config{
		K:               10,
		RankBy:          []RankKey{RankCPU, RankMemory},
		Others:          OthersRollup,
		ExitAfter:       3,
		IncumbentMargin: 0.25,
		MinK:            1,
		MaxK:            100,
		ProcessTTL:      5 * time.Minute,
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
