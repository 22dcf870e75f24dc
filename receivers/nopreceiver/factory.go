package nopreceiver // import "github.com/phoenix/platform/receivers/nopreceiver"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/phoenix/platform/receivers/nopreceiver/internal/metadata"
)

// NewFactory returns the nop receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type,
		func() component.Config { return &struct{}{} },
		receiver.WithTraces(func(context.Context, receiver.Settings, component.Config, consumer.Traces) (receiver.Traces, error) {
			return nop{}, nil
		}, metadata.TracesStability),
		receiver.WithMetrics(func(context.Context, receiver.Settings, component.Config, consumer.Metrics) (receiver.Metrics, error) {
			return nop{}, nil
		}, metadata.MetricsStability),
		receiver.WithLogs(func(context.Context, receiver.Settings, component.Config, consumer.Logs) (receiver.Logs, error) {
			return nop{}, nil
		}, metadata.LogsStability))
}

// nop starts, receives nothing and stops.
type nop struct {
	component.StartFunc
	component.ShutdownFunc
}
