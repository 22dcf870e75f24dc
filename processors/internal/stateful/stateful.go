// Package stateful builds the processor.Metrics of Phoenix's stateful
// process processors, as contrib's stateful processors do, instead of
// processorhelper.NewMetrics: processorhelper counts every batch's
// datapoints on the way in and out of each processor
// (otelcol_processor_incoming_items, …_outgoing_items), a walk over the
// whole batch twice per processor that the collector's own pipeline
// telemetry (otelcol_processor_consumed_items, …_produced_items) already
// does at every edge of the pipeline.
package stateful // import "github.com/phoenix/platform/processors/internal/stateful"

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
)

// Funcs are a processor's behaviour.
type Funcs struct {
	// Process changes a batch in place or returns a new one, and may return
	// a context for the consumers after it.
	Process  func(ctx context.Context, md pmetric.Metrics) (context.Context, pmetric.Metrics, error)
	Start    component.StartFunc
	Shutdown component.ShutdownFunc
	// Done, when set, runs after the consumers after the processor have
	// returned, with the context Process returned.
	Done func(ctx context.Context)
}

// Simple adapts a processorhelper-style function to Funcs.Process.
func Simple(f func(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error)) func(context.Context, pmetric.Metrics) (context.Context, pmetric.Metrics, error) {
	return func(ctx context.Context, md pmetric.Metrics) (context.Context, pmetric.Metrics, error) {
		md, err := f(ctx, md)
		return ctx, md, err
	}
}

// NewMetrics returns a processor that mutates data, runs fs.Process on each
// batch and hands the result to next.
func NewMetrics(next consumer.Metrics, fs Funcs) processor.Metrics {
	return &metrics{next: next, fs: fs}
}

type metrics struct {
	next consumer.Metrics
	fs   Funcs
}

var _ processor.Metrics = (*metrics)(nil)

func (m *metrics) Start(ctx context.Context, host component.Host) error {
	return m.fs.Start.Start(ctx, host)
}

func (m *metrics) Shutdown(ctx context.Context) error {
	return m.fs.Shutdown.Shutdown(ctx)
}

func (*metrics) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func (m *metrics) ConsumeMetrics(ctx context.Context, md pmetric.Metrics) error {
	ctx, md, err := m.fs.Process(ctx, md)
	if err != nil {
		return err
	}
	err = m.next.ConsumeMetrics(ctx, md)
	if m.fs.Done != nil {
		m.fs.Done(ctx)
	}
	return err
}
