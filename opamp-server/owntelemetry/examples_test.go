package owntelemetry

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/pmetric/pmetricotlp"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// examplesExport is one collector's export of blind-spot examples.
func examplesExport() (pmetric.Metrics, pmetric.NumberDataPointSlice) {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.instance.id", "agent-1")
	return md, gauge(rm.ScopeMetrics().AppendEmpty().Metrics(), apitypes.BlindSpotPeakMetric)
}

func addExample(dps pmetric.NumberDataPointSlice, variant, resource, host, name string, peak float64) {
	point(dps, peak, ts(30), "variant", variant, "resource", resource, "host.name", host, "process.executable.name", name)
}

func sampleName(t *testing.T, resource, host, name string) string {
	t.Helper()
	s, _, err := apitypes.BlindSpotSampleName(resource, host, name)
	require.NoError(t, err)
	return s
}

func TestExtractKeepsBlindSpotExamplesInTheirNames(t *testing.T) {
	md, dps := examplesExport()
	addExample(dps, "candidate", "cpu", "web-1", "java", 1.5)
	addExample(dps, "candidate", "cpu", "web-1", "java", 2.5) // the same example twice: its highest, not the sum
	addExample(dps, "candidate", "memory", "web/1", "post%gres", 4e9)

	ex := Extract(md, Rules{})
	assert.Empty(t, ex.Dropped)
	assert.Equal(t, []apitypes.Sample{
		{InstanceUID: "agent-1", Name: sampleName(t, "cpu", "web-1", "java"), Variant: "candidate", Minute: minute, Value: 2.5},
		{InstanceUID: "agent-1", Name: apitypes.BlindSpotPrefix + "memory/web%2F1/post%25gres", Variant: "candidate", Minute: minute, Value: 4e9},
	}, ex.Samples)
	resource, host, name, ok, err := apitypes.ParseBlindSpotSampleName(ex.Samples[1].Name)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, [3]string{"memory", "web/1", "post%gres"}, [3]string{resource, host, name})
}

// hostileExamples replays an attack on the examples channel: names past
// every bound, separators and escapes, unknown resources, a forged encoded
// name, and a flood of examples.
func hostileExamples() pmetric.Metrics {
	md, dps := examplesExport()
	long := strings.Repeat("A", 10_000)
	addExample(dps, "candidate", "cpu", long, long, 9)                                                // kept, cut: text_truncated
	addExample(dps, "candidate", "cpu", "h", strings.Repeat("/", 5000), 8)                            // kept, escaped and cut
	addExample(dps, "candidate", "disk", "h", "x", 1)                                                 // invalid resource
	addExample(dps, "candidate", "cpu", "h", "", 1)                                                   // no name
	addExample(dps, "candidate", "cpu", "h", "bad\xff", 1)                                            // not UTF-8
	point(dps, 1.0, ts(30), "variant", "candidate", "host.name", "h", "process.executable.name", "x") // no resource
	for i := range 1000 {
		addExample(dps, "candidate", "memory", "h", fmt.Sprintf("p%04d", i), float64(i)) // a flood: the worst kept
	}
	forged := gauge(md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics(), apitypes.BlindSpotPrefix+"cpu/h/forged")
	point(forged, 1.0, ts(30), "variant", "candidate")
	return md
}

func TestExtractBoundsBlindSpotExamples(t *testing.T) {
	ex := Extract(hostileExamples(), Rules{})

	var names []string
	for _, s := range ex.Samples {
		assert.LessOrEqual(t, len(s.Name), store.MaxKeyLength)
		require.NoError(t, store.ValidateKey("name", s.Name))
		_, _, _, ok, err := apitypes.ParseBlindSpotSampleName(s.Name)
		require.NoError(t, err, s.Name)
		assert.True(t, ok)
		assert.NotContains(t, s.Name, "forged")
		names = append(names, s.Name)
	}
	require.Len(t, ex.Samples, 2+MaxBlindSpotExamplesPerExport)
	for i := range MaxBlindSpotExamplesPerExport {
		assert.Contains(t, names, sampleName(t, "memory", "h", fmt.Sprintf("p%04d", 999-i)), "the worst are kept")
	}

	got := map[string]int{}
	for _, d := range ex.Dropped {
		got[d.Reason] += d.Points
		assert.NotEmpty(t, d.Detail)
	}
	assert.Equal(t, map[string]int{
		servermetrics.ReasonTextTruncated: 2,                                    // kept, cut
		servermetrics.ReasonInvalidSeries: 5,                                    // disk, no name, not UTF-8, no resource, forged
		servermetrics.ReasonTooManySeries: 1000 - MaxBlindSpotExamplesPerExport, // the flood beyond the bound
	}, got)
	assert.Equal(t, 5+1000-MaxBlindSpotExamplesPerExport, ex.DroppedPoints(), "cut examples are kept, not dropped")
}

func TestHandlerReplaysTheExamplesAttack(t *testing.T) {
	env := newHandlerEnv(t)
	body, err := pmetricotlp.NewExportRequestFromMetrics(hostileExamples()).MarshalProto()
	require.NoError(t, err)
	rec := env.post(t, "application/x-protobuf", "", body)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	resp := pmetricotlp.NewExportResponse()
	require.NoError(t, resp.UnmarshalProto(rec.Body.Bytes()))
	assert.Equal(t, int64(5+1000-MaxBlindSpotExamplesPerExport), resp.PartialSuccess().RejectedDataPoints())

	got, err := env.store.QuerySamples(t.Context(), store.SampleQuery{})
	require.NoError(t, err)
	assert.Len(t, got, 2+MaxBlindSpotExamplesPerExport)
	assert.InDelta(t, 2, rejected(env.metrics, servermetrics.ReasonTextTruncated), 0)
	assert.InDelta(t, 5, rejected(env.metrics, servermetrics.ReasonInvalidSeries), 0)
	assert.InDelta(t, 1000-MaxBlindSpotExamplesPerExport, rejected(env.metrics, servermetrics.ReasonTooManySeries), 0)
}
