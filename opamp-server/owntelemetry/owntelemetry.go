// Package owntelemetry ingests the collectors' own telemetry: an OTLP/HTTP
// metrics endpoint (/v1/metrics) that keeps, per agent and per minute, the
// series experiments and operators need — collector process CPU and memory,
// receiver and exporter counts, and the figures of Phoenix's processors
// (cost_meter per variant above all).
package owntelemetry // import "github.com/phoenix/platform/opamp-server/owntelemetry"

import (
	"compress/gzip"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// Path is where collectors send their metrics: the standard OTLP/HTTP path.
const Path = "/v1/metrics"

// maxBody bounds one export request (decompressed).
const maxBody = 16 << 20

// keptPrefixes select the series worth keeping; everything else a collector
// reports about itself is dropped on arrival.
var keptPrefixes = []string{
	"otelcol_process_",
	"otelcol_receiver_accepted_",
	"otelcol_receiver_refused_",
	"otelcol_exporter_sent_",
	"otelcol_exporter_send_failed_",
	"otelcol_processor_cost_meter_",
	"otelcol_processor_process_",
}

// VariantAttribute is the datapoint attribute that splits a series by
// experiment variant (set by cost_meter).
const VariantAttribute = "variant"

// Handler serves the OTLP/HTTP metrics endpoint.
type Handler struct {
	Store   store.Store
	Metrics *servermetrics.Metrics
	Logger  *slog.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	req, isJSON, err := decode(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	samples := Extract(req.Metrics())
	if len(samples) > 0 {
		if err := h.Store.PutSamples(r.Context(), samples); err != nil {
			h.Logger.Error("storing own telemetry failed", "error", err)
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		h.Metrics.OwnTelemetrySamples.Add(float64(len(samples)))
	}
	resp := pmetricotlp.NewExportResponse()
	var body []byte
	if isJSON {
		body, err = resp.MarshalJSON()
		w.Header().Set("Content-Type", "application/json")
	} else {
		body, err = resp.MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(body)
}

func decode(r *http.Request) (pmetricotlp.ExportRequest, bool, error) {
	req := pmetricotlp.NewExportRequest()
	var body io.Reader = http.MaxBytesReader(nil, r.Body, maxBody)
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		gz, err := gzip.NewReader(body)
		if err != nil {
			return req, false, fmt.Errorf("gzip body: %w", err)
		}
		defer gz.Close()
		body = io.LimitReader(gz, maxBody)
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		return req, false, fmt.Errorf("reading body: %w", err)
	}
	ct := r.Header.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/json"):
		return req, true, req.UnmarshalJSON(raw)
	case strings.HasPrefix(ct, "application/x-protobuf"), ct == "":
		return req, false, req.UnmarshalProto(raw)
	default:
		return req, false, fmt.Errorf("unsupported content type %q", ct)
	}
}

// Extract turns an export into per-minute samples: for every kept metric of
// a resource with service.instance.id, the values of its points summed over
// all attributes except the variant, at the minute of the latest point.
func Extract(md pmetric.Metrics) []apitypes.Sample {
	type key struct{ uid, name, variant string }
	type acc struct {
		value float64
		ts    pcommon.Timestamp
	}
	sums := map[key]*acc{}
	var order []key
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		uidVal, ok := rm.Resource().Attributes().Get("service.instance.id")
		if !ok || uidVal.Str() == "" {
			continue
		}
		uid := uidVal.Str()
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				if !kept(m.Name()) {
					continue
				}
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				default:
					continue
				}
				for d := 0; d < dps.Len(); d++ {
					dp := dps.At(d)
					variant := ""
					if v, ok := dp.Attributes().Get(VariantAttribute); ok {
						variant = v.Str()
					}
					kk := key{uid, m.Name(), variant}
					a, seen := sums[kk]
					if !seen {
						a = &acc{}
						sums[kk] = a
						order = append(order, kk)
					}
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						a.value += float64(dp.IntValue())
					} else {
						a.value += dp.DoubleValue()
					}
					a.ts = max(a.ts, dp.Timestamp())
				}
			}
		}
	}
	out := make([]apitypes.Sample, 0, len(order))
	for _, k := range order {
		a := sums[k]
		ts := a.ts.AsTime()
		if a.ts == 0 {
			ts = time.Now()
		}
		out = append(out, apitypes.Sample{InstanceUID: k.uid, Name: k.name, Variant: k.variant,
			Minute: ts.UTC().Truncate(time.Minute), Value: a.value})
	}
	return out
}

func kept(name string) bool {
	for _, p := range keptPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
