package owntelemetry

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// year2500 is a data point time past what int64 nanoseconds hold, as an
// OTLP sender can write it.
const year2500 = pcommon.Timestamp(16725225600 * 1e9)

func rejected(m *servermetrics.Metrics, reason string) float64 {
	return testutil.ToFloat64(m.AgentInputRejected.WithLabelValues(servermetrics.SourceOwnTelemetry, reason))
}

// poisoned is one collector's export with a good point among bad ones.
func poisoned() pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", "agent-1")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	point(gauge(ms, "otelcol_process_memory_rss"), 1.5e6, ts(30))
	point(gauge(ms, "otelcol_process_cpu_seconds"), math.NaN(), ts(30))
	point(gauge(ms, "otelcol_process_uptime"), math.Inf(-1), ts(30))
	point(gauge(ms, "otelcol_process_runtime_heap_alloc_bytes"), 1.0, year2500)
	point(gauge(ms, "otelcol_process_runtime_total_alloc_bytes"), 1.0,
		pcommon.NewTimestampFromTime(time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)))
	point(gauge(ms, "otelcol_process_runtime_total_sys_memory_bytes"), 1.0,
		pcommon.NewTimestampFromTime(minute.Add(-8*24*time.Hour)))
	return md
}

func TestExtractDropsPointsThatBreakTheRules(t *testing.T) {
	now := minute.Add(2 * time.Minute)
	rules := Rules{Now: now, Oldest: now.Add(-7 * 24 * time.Hour), Newest: now.Add(MaxClockSkew)}
	md := poisoned()
	ms := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics()
	// A point only just ahead of the clock is within the skew allowed.
	point(gauge(ms, "otelcol_process_skewed"), 2.0, pcommon.NewTimestampFromTime(now.Add(MaxClockSkew-time.Second)))
	// Finite points whose sum is not.
	huge := gauge(ms, "otelcol_process_huge")
	point(huge, math.MaxFloat64, ts(1))
	point(huge, math.MaxFloat64, ts(2))
	// Keys the store cannot hold.
	point(gauge(ms, "otelcol_process_"+strings.Repeat("x", store.MaxKeyLength)), 1.0, ts(3))
	point(gauge(ms, "otelcol_processor_cost_meter_datapoints"), 1.0, ts(4), "variant", strings.Repeat("v", store.MaxKeyLength+1))
	point(gauge(ms, "otelcol_processor_cost_meter_datapoints"), 1.0, ts(4), "variant", "bad\x00")
	long := md.ResourceMetrics().AppendEmpty()
	long.Resource().Attributes().PutStr("service.instance.id", strings.Repeat("u", 10_000))
	point(gauge(long.ScopeMetrics().AppendEmpty().Metrics(), "otelcol_process_cpu_seconds"), 1.0, ts(5))

	ex := Extract(md, rules)
	assert.Equal(t, []apitypes.Sample{
		{InstanceUID: "agent-1", Name: "otelcol_process_memory_rss", Minute: minute, Value: 1.5e6},
		{InstanceUID: "agent-1", Name: "otelcol_process_skewed", Minute: now.Add(MaxClockSkew - time.Second).Truncate(time.Minute), Value: 2},
	}, ex.Samples)

	got := map[string]int{}
	for _, d := range ex.Dropped {
		got[d.Reason] += d.Points
		assert.NotEmpty(t, d.Detail)
		assert.LessOrEqual(t, len(d.InstanceUID), store.MaxKeyLength, "a dropped instance is named, shortened")
	}
	assert.Equal(t, map[string]int{
		servermetrics.ReasonNonFinite:        4, // NaN, -Inf, and the two points of the overflowing sum
		servermetrics.ReasonFutureTimestamp:  2,
		servermetrics.ReasonExpiredTimestamp: 1,
		servermetrics.ReasonInvalidSeries:    4,
	}, got)
	assert.Equal(t, 11, ex.DroppedPoints())
	assert.Contains(t, ex.Summary(), "non_finite")
}

func TestExtractBoundsSeriesPerExport(t *testing.T) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", "agent-1")
	dps := gauge(rm.ScopeMetrics().AppendEmpty().Metrics(), "otelcol_processor_cost_meter_datapoints")
	for i := range MaxSeriesPerExport + 10 {
		point(dps, 1.0, ts(0), "variant", fmt.Sprintf("v%d", i))
	}
	point(dps, 1.0, ts(0), "variant", "v0") // an existing series still adds up

	ex := Extract(md, Rules{})
	assert.Len(t, ex.Samples, MaxSeriesPerExport)
	require.Len(t, ex.Dropped, 1)
	assert.Equal(t, servermetrics.ReasonTooManySeries, ex.Dropped[0].Reason)
	assert.Equal(t, 10, ex.Dropped[0].Points)
	assert.InDelta(t, 2.0, ex.Samples[0].Value, 0)
}

func TestHandlerDropsPoisonAndReportsPartialSuccess(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		env := newHandlerEnv(t)
		req := pmetricotlp.NewExportRequestFromMetrics(poisoned())
		contentType, body := "application/x-protobuf", []byte(nil)
		var err error
		if asJSON {
			contentType = "application/json"
			body, err = req.MarshalJSON()
		} else {
			body, err = req.MarshalProto()
		}
		require.NoError(t, err)

		rec := env.post(t, contentType, "", body)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		resp := pmetricotlp.NewExportResponse()
		if asJSON {
			require.NoError(t, resp.UnmarshalJSON(rec.Body.Bytes()))
		} else {
			require.NoError(t, resp.UnmarshalProto(rec.Body.Bytes()))
		}
		assert.Equal(t, int64(5), resp.PartialSuccess().RejectedDataPoints(), "json=%v", asJSON)
		assert.Contains(t, resp.PartialSuccess().ErrorMessage(), "non_finite")

		got, err := env.store.QuerySamples(t.Context(), store.SampleQuery{})
		require.NoError(t, err)
		assert.Equal(t, []apitypes.Sample{{InstanceUID: "agent-1", Name: "otelcol_process_memory_rss", Minute: minute, Value: 1.5e6}}, got)
		assert.InDelta(t, 2, rejected(env.metrics, servermetrics.ReasonNonFinite), 0)
		assert.InDelta(t, 2, rejected(env.metrics, servermetrics.ReasonFutureTimestamp), 0)
		assert.InDelta(t, 1, rejected(env.metrics, servermetrics.ReasonExpiredTimestamp), 0)
	}
}

func TestHandlerUsesTheRetentionItIsGiven(t *testing.T) {
	env := newHandlerEnv(t)
	env.handler.Retention = time.Minute
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", "agent-1")
	point(gauge(rm.ScopeMetrics().AppendEmpty().Metrics(), "otelcol_process_cpu_seconds"), 1.0, ts(0)) // two minutes old
	body, err := pmetricotlp.NewExportRequestFromMetrics(md).MarshalProto()
	require.NoError(t, err)
	rec := env.post(t, "application/x-protobuf", "", body)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.InDelta(t, 1, rejected(env.metrics, servermetrics.ReasonExpiredTimestamp), 0)
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// gzipBomb streams a gzip stream of size zero bytes, compressed as it is
// read: nothing is ever held whole.
func gzipBomb(t *testing.T, size int64) *countingReader {
	t.Helper()
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestCompression)
		zeros := make([]byte, 1<<20)
		for left := size; left > 0; left -= int64(len(zeros)) {
			if _, err := zw.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
				return
			}
		}
		_ = pw.CloseWithError(zw.Close())
	}()
	t.Cleanup(func() { _ = pr.Close() })
	return &countingReader{r: pr}
}

func TestHandlerRefusesOversizedBodies(t *testing.T) {
	env := newHandlerEnv(t)
	post := func(encoding string, body io.Reader, length int64) *httptest.ResponseRecorder {
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, Path, body)
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.ContentLength = length
		if encoding != "" {
			req.Header.Set("Content-Encoding", encoding)
		}
		rec := httptest.NewRecorder()
		env.handler.ServeHTTP(rec, req)
		return rec
	}

	// As sent: announced, or found out while reading.
	big := bytes.Repeat([]byte{0}, MaxRequestBytes+1)
	assert.Equal(t, http.StatusRequestEntityTooLarge, post("", bytes.NewReader(big), int64(len(big))).Code)
	assert.Equal(t, http.StatusRequestEntityTooLarge, post("", bytes.NewReader(big), -1).Code)

	// A gzip bomb is refused after MaxBodyBytes inflated, having read a
	// small part of it.
	bomb := gzipBomb(t, 1<<30)
	rec := post("gzip", bomb, -1)
	assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
	assert.Less(t, bomb.n.Load(), int64(256<<10), "compressed bytes read")

	assert.Equal(t, http.StatusUnsupportedMediaType, post("zstd", bytes.NewReader([]byte("x")), 1).Code)
	assert.InDelta(t, 3, rejected(env.metrics, servermetrics.ReasonBodyTooLarge), 0)
	assert.InDelta(t, 1, rejected(env.metrics, servermetrics.ReasonBadEncoding), 0)

	got, err := env.store.QuerySamples(t.Context(), store.SampleQuery{})
	require.NoError(t, err)
	assert.Empty(t, got)
}

func TestHandlerChecksTheInstanceInOnePlace(t *testing.T) {
	env := newHandlerEnv(t)
	reason, _ := env.handler.checkInstance(nil, "agent-1")
	assert.Empty(t, reason)
	reason, detail := env.handler.checkInstance(nil, strings.Repeat("u", store.MaxKeyLength+1))
	assert.Equal(t, servermetrics.ReasonInvalidSeries, reason)
	assert.Contains(t, detail, "service.instance.id")
}
