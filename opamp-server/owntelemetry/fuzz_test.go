package owntelemetry

import (
	"math"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// FuzzExtract decodes any OTLP body as the endpoint does and extracts it:
// nothing panics, and every sample kept can be stored (finite, keyed, in
// the window); every blind-spot example kept parses back.
func FuzzExtract(f *testing.F) {
	seed := pmetricotlp.NewExportRequest()
	rm := seed.Metrics().ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName("otelcol_process_cpu_seconds")
	m.SetEmptySum().DataPoints().AppendEmpty().SetDoubleValue(math.NaN())
	raw, err := seed.MarshalProto()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	examples, err := pmetricotlp.NewExportRequestFromMetrics(hostileExamples()).MarshalProto()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(examples)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rules := Rules{Now: now, Oldest: now.Add(-7 * 24 * time.Hour), Newest: now.Add(5 * time.Minute)}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := pmetricotlp.NewExportRequest()
		if req.UnmarshalProto(body) != nil {
			return
		}
		got := Extract(req.Metrics(), rules)
		if len(got.Samples) == 0 {
			return
		}
		if _, err := store.NormalizeSamples(got.Samples); err != nil {
			t.Fatalf("Extract kept samples the store refuses: %v", err)
		}
		for _, s := range got.Samples {
			if _, _, _, _, err := apitypes.ParseBlindSpotSampleName(s.Name); err != nil {
				t.Fatalf("Extract kept a blind-spot example that does not parse: %v", err)
			}
			if s.Minute.Before(rules.Oldest.Add(-time.Minute)) || s.Minute.After(rules.Newest) {
				t.Fatalf("sample at %s is outside the window", s.Minute)
			}
		}
	})
}
