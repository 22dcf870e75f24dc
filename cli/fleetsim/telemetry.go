package fleetsim

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"
)

// telemetry exports the agents' own metrics: one scheduler walks the
// fleet, a share of it every tick, so every agent exports once an interval
// and the exports are spread evenly over it; a few workers send them. An
// agent that is due while the workers are all busy skips its turn
// (ErrTelemetryBehind) instead of queueing without bound.
type telemetry struct {
	f        *Fleet
	interval time.Duration
	workers  int
	client   *http.Client
	queue    chan *agent
}

// telemetryTick is how often the scheduler hands out exports (shorter for
// intervals under a second).
const telemetryTick = 100 * time.Millisecond

func newTelemetry(f *Fleet) *telemetry {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = f.o.TelemetryConcurrency
	return &telemetry{
		f: f, interval: f.o.TelemetryInterval, workers: f.o.TelemetryConcurrency,
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second},
		// Room for two ticks' exports: more is a backlog that grows.
		queue: make(chan *agent, max(64, 2*int(float64(f.o.Count)*float64(telemetryTick)/float64(f.o.TelemetryInterval)))),
	}
}

func (t *telemetry) run(ctx context.Context) {
	var wg sync.WaitGroup
	for range t.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for a := range t.queue {
				t.export(ctx, a)
			}
		}()
	}
	defer func() {
		close(t.queue)
		wg.Wait()
		t.client.CloseIdleConnections()
	}()

	tick := min(telemetryTick, t.interval/10)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	n := len(t.f.agents)
	perTick := float64(n) * float64(tick) / float64(t.interval)
	carry, cursor := 0.0, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		carry += perTick
		due := int(carry)
		carry -= float64(due)
		for ; due > 0; due-- {
			a := t.f.agents[cursor].Load()
			cursor = (cursor + 1) % n
			if a == nil || !a.exporting() {
				continue
			}
			select {
			case t.queue <- a:
			default:
				t.f.countError(ErrTelemetryBehind, "the exports before it had not finished")
			}
		}
	}
}

// exporting reports whether the agent's collector runs and has somewhere
// to export to. A collector that failed its configuration is down (it
// crash-loops: it never ran one to roll back to).
func (a *agent) exporting() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.telemetry != nil && !a.stopped && a.latest != outcomeFailed
}

// export sends one agent's own metrics, as its collector's periodic OTLP
// reader would, with the headers the server offered (its credential).
func (t *telemetry) export(ctx context.Context, a *agent) {
	a.mu.Lock()
	d, start, meters := a.telemetry, a.startedAt, a.meters
	a.mu.Unlock()
	if d == nil || ctx.Err() != nil {
		return
	}
	body, err := pmetricotlp.NewExportRequestFromMetrics(a.ownMetrics(start, a.f.now(), meters)).MarshalProto()
	if err != nil {
		a.f.countError(ErrTelemetry, err.Error())
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.endpoint, bytes.NewReader(body))
	if err != nil {
		a.f.countError(ErrTelemetry, err.Error())
		return
	}
	req.Header = d.header.Clone()
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := t.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			a.f.countError(ErrTelemetry, err.Error())
		}
		return
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode != http.StatusOK:
		a.f.countError(ErrTelemetryRefused+" "+strconv.Itoa(resp.StatusCode), strings.TrimSpace(string(raw)))
		return
	case err != nil:
		a.f.countError(ErrTelemetry, err.Error())
		return
	}
	er := pmetricotlp.NewExportResponse()
	if er.UnmarshalProto(raw) == nil && er.PartialSuccess().RejectedDataPoints() > 0 {
		a.f.countError(ErrTelemetryRejected, er.PartialSuccess().ErrorMessage())
	}
	a.f.exports.Add(1)
}

// Own metrics the agents export: the collector's process series the
// server keeps (owntelemetry's otelcol_process_ prefix).
const (
	MetricUptime         = "otelcol_process_uptime"
	MetricCPUSeconds     = "otelcol_process_cpu_seconds"
	MetricMemoryRSS      = "otelcol_process_memory_rss"
	MetricHeapAlloc      = "otelcol_process_runtime_heap_alloc_bytes"
	MetricTotalAlloc     = "otelcol_process_runtime_total_alloc_bytes"
	MetricTotalSysMemory = "otelcol_process_runtime_total_sys_memory_bytes"
)

// ownMetrics are the agent's collector's own metrics at now, for a
// collector started at start: its process's, with its own steady CPU share
// (0.5% to 5% of a core) and resident set (64 to 128 MiB, growing a little
// with uptime), fixed by its index; and its cost_meter processors', one
// for each variant in meters.
func (a *agent) ownMetrics(start, now time.Time, meters []string) pmetric.Metrics {
	uptime := max(now.Sub(start).Seconds(), 0)
	cpuShare := 0.005 + 0.045*spread(a.index*7+3)
	rss := float64(64<<20) * (1 + spread(a.index)) * (1 + min(uptime, 3600)/3600/8)

	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	attrs := rm.Resource().Attributes()
	attrs.PutStr("service.instance.id", a.id.InstanceUID)
	attrs.PutStr("service.name", ServiceName)
	attrs.PutStr("service.version", a.f.o.ServiceVersion)
	sm := rm.ScopeMetrics().AppendEmpty()
	sm.Scope().SetName("go.opentelemetry.io/collector/service")
	ms := sm.Metrics()
	startTS, ts := pcommon.NewTimestampFromTime(start), pcommon.NewTimestampFromTime(now)
	sum := func(name, unit string, v float64) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		s := m.SetEmptySum()
		s.SetIsMonotonic(true)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		dp := s.DataPoints().AppendEmpty()
		dp.SetStartTimestamp(startTS)
		dp.SetTimestamp(ts)
		dp.SetDoubleValue(v)
	}
	gauge := func(name, unit string, v int64) {
		m := ms.AppendEmpty()
		m.SetName(name)
		m.SetUnit(unit)
		dp := m.SetEmptyGauge().DataPoints().AppendEmpty()
		dp.SetTimestamp(ts)
		dp.SetIntValue(v)
	}
	sum(MetricUptime, "s", uptime)
	sum(MetricCPUSeconds, "s", uptime*cpuShare)
	sum(MetricTotalAlloc, "By", uptime*cpuShare*float64(256<<20))
	gauge(MetricMemoryRSS, "By", int64(rss))
	gauge(MetricHeapAlloc, "By", int64(rss*0.45))
	gauge(MetricTotalSysMemory, "By", int64(rss*0.8))
	a.appendCostMeters(rm, meters, startTS, ts, uptime)
	return md
}

// destination is where an agent exports its own metrics to.
func (f *Fleet) destination(m *OwnMetrics) *destination {
	d := &destination{endpoint: f.intern(m.Endpoint), header: make(http.Header, len(m.Headers))}
	for k, v := range m.Headers {
		d.header.Set(k, v)
	}
	return d
}

// intern returns one copy of s for all agents (the own-telemetry
// endpoint, the same for every agent).
func (f *Fleet) intern(s string) string {
	f.internMu.Lock()
	defer f.internMu.Unlock()
	if v, ok := f.interned[s]; ok {
		return v
	}
	if len(f.interned) < 64 {
		f.interned[s] = s
	}
	return s
}
