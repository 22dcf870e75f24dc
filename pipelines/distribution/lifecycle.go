package distribution

import (
	"context"
	"sync"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/fileexporter"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/xconsumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exporterhelper/xexporterhelper"
	"go.opentelemetry.io/collector/exporter/xexporter"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pprofile"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/xprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/xreceiver"
)

// Validation builds every pipeline component (the collector's DryRun creates
// them to check that they can be created) but never starts or shuts one down.
// Some components register themselves in a process-wide map when created and
// leave it only when shut down: the OTLP receiver (core's
// internal/sharedcomponent) and the file exporter (contrib's). Each validation
// of a configuration holding one left an entry with its whole configuration
// behind, so anyone allowed to validate could grow the server's memory without
// bound. validationFactories records what a validation creates, so validate
// shuts it down, and keeps the file exporter out of its map altogether.

// built is every component one validation created.
type built struct {
	mu    sync.Mutex
	comps []component.Component
}

// add records c when it was created; it returns err unchanged.
func (b *built) add(c component.Component, err error) error {
	if err == nil && c != nil {
		b.mu.Lock()
		b.comps = append(b.comps, c)
		b.mu.Unlock()
	}
	return err
}

// shutdown shuts every component down, the last created first, as the
// collector does (receivers, then processors, then exporters). Components
// must accept Shutdown without Start; its errors concern resources a
// component that never started does not hold, so they are not reported.
func (b *built) shutdown(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.comps) - 1; i >= 0; i-- {
		_ = b.comps[i].Shutdown(ctx)
	}
	b.comps = nil
}

var fileExporterType = fileexporter.NewFactory().Type()

// validationFactories returns the distribution's factories for one
// validation, recording in b every receiver, processor and exporter they
// create. The distribution has no connectors (a test keeps it so): one added
// must be recorded here too.
func validationFactories(b *built) (otelcol.Factories, error) {
	f, err := Components()
	if err != nil {
		return f, err
	}
	for t, rf := range f.Receivers {
		f.Receivers[t] = trackReceiver(rf, b)
	}
	for t, pf := range f.Processors {
		f.Processors[t] = trackProcessor(pf, b)
	}
	for t, ef := range f.Exporters {
		if ef.Type() == fileExporterType { // under its type and any alias
			ef = fileStandIn(ef)
		}
		f.Exporters[t] = trackExporter(ef, b)
	}
	return f, nil
}

// fileStandIn replaces the file exporter's creation for validation. Its
// factory (fileexporter v0.158.0, getOrCreateFileExporter) adds the exporter
// to a package-level map, and the component it returns shuts down the inner
// exporter, never that map entry, so shutting it down would not remove it.
// The stand-in builds the exporter through exporterhelper with the same
// settings and configuration, as the real one does, with nothing to write:
// the real creation does nothing else that can fail, and the file is opened
// only on Start.
func fileStandIn(real exporter.Factory) exporter.Factory {
	xf, ok := real.(xexporter.Factory)
	if !ok {
		return real
	}
	return fileExporterStandIn{xf}
}

type fileExporterStandIn struct{ xexporter.Factory }

func (fileExporterStandIn) CreateTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	return exporterhelper.NewTraces(ctx, set, cfg, func(context.Context, ptrace.Traces) error { return nil },
		exporterhelper.WithCapabilities(consumer.Capabilities{}))
}

func (fileExporterStandIn) CreateMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	return exporterhelper.NewMetrics(ctx, set, cfg, func(context.Context, pmetric.Metrics) error { return nil },
		exporterhelper.WithCapabilities(consumer.Capabilities{}))
}

func (fileExporterStandIn) CreateLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	return exporterhelper.NewLogs(ctx, set, cfg, func(context.Context, plog.Logs) error { return nil },
		exporterhelper.WithCapabilities(consumer.Capabilities{}))
}

func (fileExporterStandIn) CreateProfiles(ctx context.Context, set exporter.Settings, cfg component.Config) (xexporter.Profiles, error) {
	return xexporterhelper.NewProfiles(ctx, set, cfg, func(context.Context, pprofile.Profiles) error { return nil },
		exporterhelper.WithCapabilities(consumer.Capabilities{}))
}

// The wrappers below keep each factory's type, stability and default
// configuration, and whether it supports profiles (the x variant), so the
// collector builds exactly what it would build without them.

func trackReceiver(f receiver.Factory, b *built) receiver.Factory {
	t := trackedReceiver{f, b}
	if xf, ok := f.(xreceiver.Factory); ok {
		return trackedXReceiver{t, xf}
	}
	return t
}

type trackedReceiver struct {
	receiver.Factory
	b *built
}

func (f trackedReceiver) CreateTraces(ctx context.Context, set receiver.Settings, cfg component.Config, next consumer.Traces) (receiver.Traces, error) {
	c, err := f.Factory.CreateTraces(ctx, set, cfg, next)
	return c, f.b.add(c, err)
}

func (f trackedReceiver) CreateMetrics(ctx context.Context, set receiver.Settings, cfg component.Config, next consumer.Metrics) (receiver.Metrics, error) {
	c, err := f.Factory.CreateMetrics(ctx, set, cfg, next)
	return c, f.b.add(c, err)
}

func (f trackedReceiver) CreateLogs(ctx context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	c, err := f.Factory.CreateLogs(ctx, set, cfg, next)
	return c, f.b.add(c, err)
}

type trackedXReceiver struct {
	trackedReceiver
	x xreceiver.Factory
}

func (f trackedXReceiver) CreateProfiles(ctx context.Context, set receiver.Settings, cfg component.Config, next xconsumer.Profiles) (xreceiver.Profiles, error) {
	c, err := f.x.CreateProfiles(ctx, set, cfg, next)
	return c, f.b.add(c, err)
}

func (f trackedXReceiver) ProfilesStability() component.StabilityLevel {
	return f.x.ProfilesStability()
}

func trackProcessor(f processor.Factory, b *built) processor.Factory {
	t := trackedProcessor{f, b}
	if xf, ok := f.(xprocessor.Factory); ok {
		return trackedXProcessor{t, xf}
	}
	return t
}

type trackedProcessor struct {
	processor.Factory
	b *built
}

func (f trackedProcessor) CreateTraces(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Traces) (processor.Traces, error) {
	c, err := f.Factory.CreateTraces(ctx, set, cfg, next)
	return c, f.b.add(c, err)
}

func (f trackedProcessor) CreateMetrics(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Metrics) (processor.Metrics, error) {
	c, err := f.Factory.CreateMetrics(ctx, set, cfg, next)
	return c, f.b.add(c, err)
}

func (f trackedProcessor) CreateLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	c, err := f.Factory.CreateLogs(ctx, set, cfg, next)
	return c, f.b.add(c, err)
}

type trackedXProcessor struct {
	trackedProcessor
	x xprocessor.Factory
}

func (f trackedXProcessor) CreateProfiles(ctx context.Context, set processor.Settings, cfg component.Config, next xconsumer.Profiles) (xprocessor.Profiles, error) {
	c, err := f.x.CreateProfiles(ctx, set, cfg, next)
	return c, f.b.add(c, err)
}

func (f trackedXProcessor) ProfilesStability() component.StabilityLevel {
	return f.x.ProfilesStability()
}

func trackExporter(f exporter.Factory, b *built) exporter.Factory {
	t := trackedExporter{f, b}
	if xf, ok := f.(xexporter.Factory); ok {
		return trackedXExporter{t, xf}
	}
	return t
}

type trackedExporter struct {
	exporter.Factory
	b *built
}

func (f trackedExporter) CreateTraces(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Traces, error) {
	c, err := f.Factory.CreateTraces(ctx, set, cfg)
	return c, f.b.add(c, err)
}

func (f trackedExporter) CreateMetrics(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	c, err := f.Factory.CreateMetrics(ctx, set, cfg)
	return c, f.b.add(c, err)
}

func (f trackedExporter) CreateLogs(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
	c, err := f.Factory.CreateLogs(ctx, set, cfg)
	return c, f.b.add(c, err)
}

type trackedXExporter struct {
	trackedExporter
	x xexporter.Factory
}

func (f trackedXExporter) CreateProfiles(ctx context.Context, set exporter.Settings, cfg component.Config) (xexporter.Profiles, error) {
	c, err := f.x.CreateProfiles(ctx, set, cfg)
	return c, f.b.add(c, err)
}

func (f trackedXExporter) ProfilesStability() component.StabilityLevel {
	return f.x.ProfilesStability()
}
