// Package owntelemetry ingests the collectors' own telemetry: an OTLP/HTTP
// metrics endpoint (/v1/metrics) that keeps, per agent and per minute, the
// series experiments and operators need — collector process CPU and memory,
// receiver and exporter counts, and the figures of Phoenix's processors
// (cost_meter per variant above all).
//
// Everything a collector sends is held to limits before it is stored: the
// body's size as sent and inflated, finite values, timestamps within the
// sample retention and not ahead of the clock, keys the store can hold and
// a bounded number of series per export. Data points over a limit are
// dropped, counted (phoenix_agent_input_rejected_total) and reported back
// as OTLP partial success; a body over a limit is refused with 413.
package owntelemetry // import "github.com/phoenix/platform/opamp-server/owntelemetry"

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/internal/bodylimit"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// Path is where collectors send their metrics: the standard OTLP/HTTP path.
const Path = "/v1/metrics"

// Limits on own telemetry (see the package comment).
const (
	// MaxRequestBytes bounds an export body as sent, compressed or not.
	MaxRequestBytes = 4 << 20
	// MaxBodyBytes bounds an export body after gzip decompression: reading
	// stops, and the export is refused, once this much has been inflated.
	MaxBodyBytes = 16 << 20
	// MaxClockSkew is how far ahead of the server's clock a data point may
	// be dated.
	MaxClockSkew = 5 * time.Minute
	// MaxSeriesPerExport bounds the series (instance, name, variant) one
	// export may add to; a collector reports a few dozen.
	MaxSeriesPerExport = 4096
	// MaxBlindSpotExamplesPerExport bounds the blind-spot examples one
	// export may store per instance, variant and resource (examples.go); a
	// collector reports its worst few (cost_meter's max_examples, 5 by
	// default).
	MaxBlindSpotExamplesPerExport = 10
	// DefaultRetention is the sample retention a Handler assumes when not
	// told: `phoenix server`'s default sample_retention.
	DefaultRetention = 7 * 24 * time.Hour
)

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
	// Auth authenticates senders, each with its own agent credential, which
	// may report only for its own service.instance.id; nil disables auth.
	Auth *auth.Authenticator
	// Retention is the sample retention: data points older than this are
	// dropped, since retention would delete them anyway. Default
	// DefaultRetention.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	sender, authenticated := h.authenticate(w, r)
	if !authenticated {
		return
	}
	raw, v := bodylimit.Read(r, MaxRequestBytes, MaxBodyBytes)
	if v != nil {
		h.Metrics.RejectInput(h.Logger, servermetrics.SourceOwnTelemetry, v.Reason, remoteHost(r.RemoteAddr), 1, v.Detail)
		if v.Status == http.StatusRequestEntityTooLarge {
			w.Header().Set("Connection", "close")
		}
		http.Error(w, v.Detail, v.Status)
		return
	}
	req, isJSON, err := decode(r.Header.Get("Content-Type"), raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if other := foreignInstance(req.Metrics(), sender); sender != "" && other != "" {
		h.refuseForeign(w, sender, other)
		return
	}
	ex := Extract(req.Metrics(), h.rules(r))
	if len(ex.Samples) > 0 {
		if err := h.Store.PutSamples(r.Context(), ex.Samples); err != nil {
			h.Logger.Error("storing own telemetry failed", "error", err)
			http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
			return
		}
		h.Metrics.OwnTelemetrySamples.Add(float64(len(ex.Samples)))
	}
	resp := pmetricotlp.NewExportResponse()
	if n := ex.DroppedPoints(); n > 0 {
		resp.PartialSuccess().SetRejectedDataPoints(int64(n))
		resp.PartialSuccess().SetErrorMessage(ex.Summary())
	}
	for _, d := range ex.Dropped {
		h.Metrics.RejectInput(h.Logger, servermetrics.SourceOwnTelemetry, d.Reason, d.InstanceUID, d.Points, d.Detail)
	}
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

// rules are the limits r's data points are held to.
func (h *Handler) rules(r *http.Request) Rules {
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	retention := h.Retention
	if retention <= 0 {
		retention = DefaultRetention
	}
	return Rules{
		Now: now, Oldest: now.Add(-retention), Newest: now.Add(MaxClockSkew),
		Instance: func(uid string) (string, string) { return h.checkInstance(r, uid) },
	}
}

// checkInstance decides whether r may carry data points of the collector
// whose service.instance.id is uid, and if not, the reason and detail to
// count: the store must be able to key it. (Whether the sender may speak
// for uid at all was decided before: foreignInstance.)
func (h *Handler) checkInstance(_ *http.Request, uid string) (reason, detail string) {
	if err := store.ValidateKey("service.instance.id", uid); err != nil {
		return servermetrics.ReasonInvalidSeries, err.Error()
	}
	return "", ""
}

func decode(contentType string, raw []byte) (pmetricotlp.ExportRequest, bool, error) {
	req := pmetricotlp.NewExportRequest()
	switch {
	case strings.HasPrefix(contentType, "application/json"):
		return req, true, req.UnmarshalJSON(raw)
	case strings.HasPrefix(contentType, "application/x-protobuf"), contentType == "":
		return req, false, req.UnmarshalProto(raw)
	default:
		return req, false, fmt.Errorf("unsupported content type %q", contentType)
	}
}

// remoteHost names a sender by its address.
func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// Rules are the limits Extract holds data points to.
type Rules struct {
	// Now stamps data points that carry no time.
	Now time.Time
	// Oldest and Newest bound the time a data point may be dated; a zero
	// bound is none. Points without a time are always in.
	Oldest, Newest time.Time
	// Instance decides whether data points of a service.instance.id may be
	// kept: it returns "" to keep them, or the reason (and a detail) to drop
	// them. Nil keeps every instance the store can key.
	Instance func(uid string) (reason, detail string)
}

// Extraction is what Extract keeps of an export and what it drops.
type Extraction struct {
	// Samples are the samples to store, in the order their series first
	// appeared.
	Samples []apitypes.Sample
	// Dropped are the data points dropped, by instance and reason, sorted;
	// and, under servermetrics.ReasonTextTruncated, the blind-spot examples
	// kept with a cut host or process name.
	Dropped []Drop
}

// Drop counts the data points of one instance dropped for one reason.
type Drop struct {
	InstanceUID string
	Reason      string // a servermetrics.Reason*
	Points      int
	Detail      string // the first drop's explanation
}

// DroppedPoints is the number of data points dropped (points kept but cut,
// text_truncated, are not).
func (e Extraction) DroppedPoints() int {
	n := 0
	for _, d := range e.Dropped {
		if d.Reason != servermetrics.ReasonTextTruncated {
			n += d.Points
		}
	}
	return n
}

// Summary explains the drops in one line, for OTLP partial success.
func (e Extraction) Summary() string {
	parts := make([]string, 0, len(e.Dropped))
	for _, d := range e.Dropped {
		parts = append(parts, fmt.Sprintf("%d %s (%s)", d.Points, d.Reason, d.Detail))
		if len(parts) == 8 {
			parts = append(parts, "…")
			break
		}
	}
	return "data points dropped: " + strings.Join(parts, "; ")
}

// Extract turns an export into per-minute samples: for every kept metric of
// a resource with service.instance.id, the values of its points summed over
// all attributes except the variant, at the minute of the latest point.
// Data points that break the rules are dropped and counted: a non-finite
// value, a time outside [Oldest, Newest], an instance, name or variant the
// store cannot key, a series beyond MaxSeriesPerExport, and a series whose
// sum overflows. The blind-spot examples of cost_meter are the exception
// (examples.go): each keeps its attributes in its sample name, and its
// value is the highest of its points, not their sum.
func Extract(md pmetric.Metrics, rules Rules) Extraction {
	type key struct{ uid, name, variant string }
	type acc struct {
		value  float64
		ts     pcommon.Timestamp
		points int
	}
	oldest, newest := timestamp(rules.Oldest), timestamp(rules.Newest)
	now := rules.Now
	if now.IsZero() {
		now = time.Now()
	}
	sums := map[key]*acc{}
	var order []key
	var examples []example
	drops := map[[2]string]*Drop{}
	drop := func(uid, reason, detail string, n int) {
		k := [2]string{uid, reason}
		d, ok := drops[k]
		if !ok {
			d = &Drop{InstanceUID: uid, Reason: reason, Detail: detail}
			drops[k] = d
		}
		d.Points += n
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		uidVal, ok := rm.Resource().Attributes().Get("service.instance.id")
		if !ok || uidVal.Str() == "" {
			continue
		}
		uid := uidVal.Str()
		instanceReason, instanceDetail := "", ""
		if rules.Instance != nil {
			instanceReason, instanceDetail = rules.Instance(uid)
		} else if err := store.ValidateKey("service.instance.id", uid); err != nil {
			instanceReason, instanceDetail = servermetrics.ReasonInvalidSeries, err.Error()
		}
		if instanceReason != "" && len(uid) > store.MaxKeyLength {
			uid = uid[:store.MaxKeyLength] // named in counts and logs only
		}
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
				if instanceReason != "" {
					drop(uid, instanceReason, instanceDetail, dps.Len())
					continue
				}
				if err := store.ValidateKey("name", m.Name()); err != nil {
					drop(uid, servermetrics.ReasonInvalidSeries, err.Error(), dps.Len())
					continue
				}
				if strings.HasPrefix(m.Name(), apitypes.BlindSpotPrefix) { // only Extract writes these names
					drop(uid, servermetrics.ReasonInvalidSeries, fmt.Sprintf("metric name %.80q: the prefix %s is reserved for blind-spot examples",
						m.Name(), apitypes.BlindSpotPrefix), dps.Len())
					continue
				}
				for d := 0; d < dps.Len(); d++ {
					dp := dps.At(d)
					variant := ""
					if v, ok := dp.Attributes().Get(VariantAttribute); ok {
						variant = v.Str()
					}
					value := dp.DoubleValue()
					if dp.ValueType() == pmetric.NumberDataPointValueTypeInt {
						value = float64(dp.IntValue())
					}
					ts := dp.Timestamp()
					if variant != "" {
						if err := store.ValidateKey("variant", variant); err != nil {
							drop(uid, servermetrics.ReasonInvalidSeries, err.Error(), 1)
							continue
						}
					}
					switch {
					case math.IsNaN(value) || math.IsInf(value, 0):
						drop(uid, servermetrics.ReasonNonFinite, fmt.Sprintf("%s is %v", m.Name(), value), 1)
						continue
					case ts != 0 && newest != 0 && ts > newest:
						drop(uid, servermetrics.ReasonFutureTimestamp,
							fmt.Sprintf("%s dated more than %s ahead of the server's clock", m.Name(), MaxClockSkew), 1)
						continue
					case ts != 0 && ts < oldest:
						drop(uid, servermetrics.ReasonExpiredTimestamp,
							fmt.Sprintf("%s dated before the sample retention (%s)", m.Name(), rules.Oldest.UTC().Format(time.RFC3339)), 1)
						continue
					}
					if m.Name() == apitypes.BlindSpotPeakMetric {
						ex, reason, detail := blindSpotExample(uid, variant, dp, value)
						if reason != "" {
							drop(uid, reason, detail, 1)
							continue
						}
						if ex.truncated {
							drop(uid, servermetrics.ReasonTextTruncated, fmt.Sprintf("%s: host.name or process.executable.name cut to %d bytes; the example is kept",
								apitypes.BlindSpotPeakMetric, apitypes.MaxBlindSpotPartBytes), 1)
						}
						examples = append(examples, ex)
						continue
					}
					kk := key{uid, m.Name(), variant}
					a, seen := sums[kk]
					if !seen {
						if len(order) >= MaxSeriesPerExport {
							drop(uid, servermetrics.ReasonTooManySeries, fmt.Sprintf("more than %d series in one export", MaxSeriesPerExport), 1)
							continue
						}
						a = &acc{}
						sums[kk] = a
						order = append(order, kk)
					}
					a.value += value
					a.ts = max(a.ts, ts)
					a.points++
				}
			}
		}
	}
	for _, e := range worstExamples(examples, drop) {
		kk := key{e.uid, e.name, e.variant}
		a, seen := sums[kk]
		if !seen {
			if len(order) >= MaxSeriesPerExport {
				drop(e.uid, servermetrics.ReasonTooManySeries, fmt.Sprintf("more than %d series in one export", MaxSeriesPerExport), 1)
				continue
			}
			a = &acc{value: e.value}
			sums[kk] = a
			order = append(order, kk)
		}
		a.value = max(a.value, e.value) // a peak: the same example twice is its highest
		a.ts = max(a.ts, e.ts)
		a.points++
	}
	var ex Extraction
	ex.Samples = make([]apitypes.Sample, 0, len(order))
	for _, k := range order {
		a := sums[k]
		if math.IsNaN(a.value) || math.IsInf(a.value, 0) {
			drop(k.uid, servermetrics.ReasonNonFinite, fmt.Sprintf("%s sums to %v", k.name, a.value), a.points)
			continue
		}
		ts := a.ts.AsTime()
		if a.ts == 0 {
			ts = now
		}
		ex.Samples = append(ex.Samples, apitypes.Sample{InstanceUID: k.uid, Name: k.name, Variant: k.variant,
			Minute: ts.UTC().Truncate(time.Minute), Value: a.value})
	}
	for _, d := range drops {
		ex.Dropped = append(ex.Dropped, *d)
	}
	sort.Slice(ex.Dropped, func(i, j int) bool {
		a, b := ex.Dropped[i], ex.Dropped[j]
		if a.InstanceUID != b.InstanceUID {
			return a.InstanceUID < b.InstanceUID
		}
		return a.Reason < b.Reason
	})
	return ex
}

// timestamp converts a bound to OTLP's unsigned nanoseconds, so points are
// compared as sent: a time past year 2262 does not fit AsTime's int64.
func timestamp(t time.Time) pcommon.Timestamp {
	if t.IsZero() {
		return 0
	}
	return pcommon.NewTimestampFromTime(t)
}

func kept(name string) bool {
	for _, p := range keptPrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}
