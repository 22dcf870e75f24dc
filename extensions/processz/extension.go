package processz // import "github.com/phoenix/platform/extensions/processz"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/phoenix/platform/extensions/processz/internal/metadata"
	"github.com/phoenix/platform/processors/contract/decision"
)

// processz serves the decisions Phoenix's processors record with it.
type processz struct {
	cfg       *Config
	settings  component.TelemetrySettings
	telemetry *metadata.TelemetryBuilder
	store     *store
	handler   *handler

	server  *http.Server
	addr    net.Addr      // where the server listens, once started
	stopped chan struct{} // closed when Serve returns
}

var (
	_ extension.Extension = (*processz)(nil)
	_ decision.Recorder   = (*processz)(nil)
)

func newExtension(set extension.Settings, cfg *Config) (*processz, error) {
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	st := newStore(cfg.MaxSources, time.Now, func() { tb.ExtensionProcesszSourcesEvicted.Add(ctx, 1) })
	err = errors.Join(
		tb.RegisterExtensionProcesszSourcesCallback(func(_ context.Context, o metric.Int64Observer) error {
			sources, _ := st.size()
			o.Observe(int64(sources))
			return nil
		}),
		tb.RegisterExtensionProcesszRecordsCallback(func(_ context.Context, o metric.Int64Observer) error {
			_, records := st.size()
			o.Observe(int64(records))
			return nil
		}),
	)
	if err != nil {
		tb.Shutdown()
		return nil, err
	}
	return &processz{
		cfg:       cfg,
		settings:  set.TelemetrySettings,
		telemetry: tb,
		store:     st,
		handler:   &handler{store: st, now: time.Now, logger: set.Logger},
	}, nil
}

// RecordDecisions implements decision.Recorder: records replaces what source
// reported before. Processors may call it before Start and after Shutdown.
func (p *processz) RecordDecisions(source component.ID, records []decision.Record) {
	p.store.record(source, records)
}

// Start listens before returning, so a taken port fails the collector's start
// with a clear error; serving errors after that are reported as component
// status.
func (p *processz) Start(ctx context.Context, host component.Host) error {
	ln, err := p.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("processz: listening on %q: %w", p.cfg.NetAddr.Endpoint, err)
	}
	mux := http.NewServeMux()
	mux.Handle(Path, p.handler)
	server, err := p.cfg.ToServer(ctx, host.GetExtensions(), p.settings, mux)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("processz: %w", err)
	}
	p.server, p.addr, p.stopped = server, ln.Addr(), make(chan struct{})
	go p.serve(server, ln, host)
	p.settings.Logger.Info("processz serving", zap.String("url", "http://"+p.addr.String()+Path))
	return nil
}

// serve runs until the server is closed; any other end is a fatal error of
// this component.
func (p *processz) serve(server *http.Server, ln net.Listener, host component.Host) {
	defer close(p.stopped)
	if err := server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
	}
}

// Shutdown stops serving. It is safe on a nil, never started or already
// shut down extension.
func (p *processz) Shutdown(context.Context) error {
	if p == nil {
		return nil
	}
	p.telemetry.Shutdown()
	if p.server == nil {
		return nil
	}
	err := p.server.Close()
	<-p.stopped
	p.server = nil
	return err
}
