package owntelemetry

import (
	"bytes"
	"compress/gzip"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
)

var minute = time.Date(2025, 6, 1, 12, 3, 0, 0, time.UTC)

func ts(sec int) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(minute.Add(time.Duration(sec) * time.Second))
}

// point adds a number data point; value is an int64 or a float64.
func point(dps pmetric.NumberDataPointSlice, value any, at pcommon.Timestamp, attrs ...string) {
	dp := dps.AppendEmpty()
	switch v := value.(type) {
	case int:
		dp.SetIntValue(int64(v))
	case float64:
		dp.SetDoubleValue(v)
	}
	dp.SetTimestamp(at)
	for i := 0; i+1 < len(attrs); i += 2 {
		dp.Attributes().PutStr(attrs[i], attrs[i+1])
	}
}

func sum(ms pmetric.MetricSlice, name string) pmetric.NumberDataPointSlice {
	m := ms.AppendEmpty()
	m.SetName(name)
	return m.SetEmptySum().DataPoints()
}

func gauge(ms pmetric.MetricSlice, name string) pmetric.NumberDataPointSlice {
	m := ms.AppendEmpty()
	m.SetName(name)
	return m.SetEmptyGauge().DataPoints()
}

// collectorMetrics is what two collectors and an anonymous process report.
func collectorMetrics() pmetric.Metrics {
	md := pmetric.NewMetrics()

	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", "agent-1")
	rm.Resource().Attributes().PutStr("service.name", "phoenix-collector")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	sent := sum(ms, "otelcol_exporter_sent_metric_points")
	point(sent, 5, ts(10), "exporter", "otlp")
	point(sent, 7, ts(41), "exporter", "nop")
	point(gauge(ms, "otelcol_process_memory_rss"), 1.5e6, ts(59))
	cost := sum(ms, "otelcol_processor_cost_meter_datapoints")
	point(cost, 10.0, ts(20), "variant", "baseline")
	point(cost, 3.0, ts(20), "variant", "candidate", "pipeline", "metrics/a")
	point(cost, 2.0, ts(30), "variant", "candidate", "pipeline", "metrics/b")
	point(sum(ms, "otelcol_receiver_accepted_metric_points"), 1, ts(0))
	point(gauge(ms, "otelcol_exporter_queue_size"), 3, ts(0)) // not kept
	hist := ms.AppendEmpty()
	hist.SetName("otelcol_processor_process_duration") // kept name, unsupported type
	hist.SetEmptyHistogram().DataPoints().AppendEmpty().SetCount(4)

	// A second scope of the same collector adds to the same series.
	ms2 := rm.ScopeMetrics().AppendEmpty().Metrics()
	point(sum(ms2, "otelcol_exporter_sent_metric_points"), 1, ts(5))

	other := md.ResourceMetrics().AppendEmpty()
	other.Resource().Attributes().PutStr("service.instance.id", "agent-2")
	point(gauge(other.ScopeMetrics().AppendEmpty().Metrics(), "otelcol_process_cpu_seconds"), 2.25, ts(65))

	for _, id := range []string{"", "-"} {
		anon := md.ResourceMetrics().AppendEmpty()
		if id != "-" {
			anon.Resource().Attributes().PutStr("service.instance.id", id)
		}
		point(gauge(anon.ScopeMetrics().AppendEmpty().Metrics(), "otelcol_process_cpu_seconds"), 9.0, ts(0))
	}
	return md
}

// wantSamples is what Extract makes of collectorMetrics, in order.
var wantSamples = []apitypes.Sample{
	{InstanceUID: "agent-1", Name: "otelcol_exporter_sent_metric_points", Minute: minute, Value: 13},
	{InstanceUID: "agent-1", Name: "otelcol_process_memory_rss", Minute: minute, Value: 1.5e6},
	{InstanceUID: "agent-1", Name: "otelcol_processor_cost_meter_datapoints", Variant: "baseline", Minute: minute, Value: 10},
	{InstanceUID: "agent-1", Name: "otelcol_processor_cost_meter_datapoints", Variant: "candidate", Minute: minute, Value: 5},
	{InstanceUID: "agent-1", Name: "otelcol_receiver_accepted_metric_points", Minute: minute, Value: 1},
	{InstanceUID: "agent-2", Name: "otelcol_process_cpu_seconds", Minute: minute.Add(time.Minute), Value: 2.25},
}

func TestExtract(t *testing.T) {
	ex := Extract(collectorMetrics(), Rules{})
	assert.Equal(t, wantSamples, ex.Samples)
	assert.Empty(t, ex.Dropped)
	assert.Empty(t, Extract(pmetric.NewMetrics(), Rules{}).Samples)
}

func TestExtractStampsPointsWithoutTimeNow(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", "agent-1")
	point(gauge(rm.ScopeMetrics().AppendEmpty().Metrics(), "otelcol_process_cpu_seconds"), 1.0, 0)

	before := time.Now().UTC().Truncate(time.Minute)
	got := Extract(md, Rules{}).Samples
	after := time.Now().UTC()
	require.Len(t, got, 1)
	assert.False(t, got[0].Minute.Before(before) || got[0].Minute.After(after), "minute %s", got[0].Minute)
	assert.Equal(t, got[0].Minute, got[0].Minute.Truncate(time.Minute))
}

type handlerEnv struct {
	store   store.Store
	metrics *servermetrics.Metrics
	handler *Handler
}

func newHandlerEnv(t *testing.T) *handlerEnv {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	m := servermetrics.New()
	return &handlerEnv{store: st, metrics: m, handler: &Handler{Store: st, Metrics: m, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return minute.Add(2 * time.Minute) }}}
}

func (e *handlerEnv) post(t *testing.T, contentType, encoding string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, Path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if encoding != "" {
		req.Header.Set("Content-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

func gzipped(t *testing.T, raw []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(raw)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func TestHandlerStoresSamples(t *testing.T) {
	req := pmetricotlp.NewExportRequestFromMetrics(collectorMetrics())
	proto, err := req.MarshalProto()
	require.NoError(t, err)
	jsonBody, err := req.MarshalJSON()
	require.NoError(t, err)

	tests := []struct {
		name, contentType, encoding string
		body                        []byte
		wantJSON                    bool
	}{
		{name: "protobuf", contentType: "application/x-protobuf", body: proto},
		{name: "protobuf without content type", body: proto},
		{name: "gzipped protobuf", contentType: "application/x-protobuf", encoding: "gzip", body: gzipped(t, proto)},
		{name: "json", contentType: "application/json", body: jsonBody, wantJSON: true},
		{name: "gzipped json with charset", contentType: "application/json; charset=utf-8", encoding: "GZIP",
			body: gzipped(t, jsonBody), wantJSON: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newHandlerEnv(t)
			rec := env.post(t, tt.contentType, tt.encoding, tt.body)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())

			resp := pmetricotlp.NewExportResponse()
			if tt.wantJSON {
				assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
				assert.NoError(t, resp.UnmarshalJSON(rec.Body.Bytes()))
			} else {
				assert.Equal(t, "application/x-protobuf", rec.Header().Get("Content-Type"))
				assert.NoError(t, resp.UnmarshalProto(rec.Body.Bytes()))
			}

			got, err := env.store.QuerySamples(t.Context(), store.SampleQuery{})
			require.NoError(t, err)
			assert.ElementsMatch(t, wantSamples, got)
			assert.InDelta(t, len(wantSamples), counter(t, env.metrics, "phoenix_own_telemetry_samples_total"), 0)
		})
	}
}

func TestHandlerAcceptsExportsWithNothingToKeep(t *testing.T) {
	env := newHandlerEnv(t)
	require.NoError(t, env.store.Close()) // nothing must be written
	proto, err := pmetricotlp.NewExportRequest().MarshalProto()
	require.NoError(t, err)
	rec := env.post(t, "application/x-protobuf", "", proto)
	assert.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
}

func TestHandlerRejectsBadRequests(t *testing.T) {
	env := newHandlerEnv(t)
	proto, err := pmetricotlp.NewExportRequestFromMetrics(collectorMetrics()).MarshalProto()
	require.NoError(t, err)
	tests := []struct {
		name, contentType, encoding string
		body                        []byte
		mention                     string
	}{
		{name: "unsupported content type", contentType: "text/plain", body: proto, mention: "unsupported content type"},
		{name: "not gzip", contentType: "application/x-protobuf", encoding: "gzip", body: proto, mention: "gzip"},
		{name: "not protobuf", contentType: "application/x-protobuf", body: []byte("hello"), mention: ""},
		{name: "not JSON", contentType: "application/json", body: []byte("{"), mention: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.post(t, tt.contentType, tt.encoding, tt.body)
			assert.Equal(t, http.StatusBadRequest, rec.Code)
			assert.Contains(t, rec.Body.String(), tt.mention)
		})
	}
	got, err := env.store.QuerySamples(t.Context(), store.SampleQuery{})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestHandlerRejectsOtherMethods(t *testing.T) {
	env := newHandlerEnv(t)
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		rec := httptest.NewRecorder()
		env.handler.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, Path, nil))
		assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, method)
		assert.Equal(t, http.MethodPost, rec.Header().Get("Allow"), method)
	}
}

func TestHandlerReportsStoreFailure(t *testing.T) {
	env := newHandlerEnv(t)
	require.NoError(t, env.store.Close())
	proto, err := pmetricotlp.NewExportRequestFromMetrics(collectorMetrics()).MarshalProto()
	require.NoError(t, err)
	rec := env.post(t, "application/x-protobuf", "", proto)
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, "the collector retries later")
	assert.Zero(t, counter(t, env.metrics, "phoenix_own_telemetry_samples_total"))
}

func counter(t *testing.T, m *servermetrics.Metrics, name string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
