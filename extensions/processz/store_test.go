package processz

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/phoenix/platform/extensions/processz/internal/metadatatest"
	"github.com/phoenix/platform/processors/contract/decision"
)

func records(n int) []decision.Record {
	out := make([]decision.Record, n)
	for i := range out {
		out[i] = decision.Record{PID: int64(i + 1), Executable: "x", Outcome: decision.Kept, Rank: i + 1}
	}
	return out
}

func value(v int64) []metricdata.DataPoint[int64] { return []metricdata.DataPoint[int64]{{Value: v}} }

func TestStoreKeepsLatestRecordsOfBoundedSources(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	cfg := createDefaultConfig().(*Config)
	cfg.MaxSources = 2
	p, err := newExtension(metadatatest.NewSettings(tel), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	clock := t0
	p.store.now = func() time.Time { clock = clock.Add(time.Second); return clock }

	a := component.MustNewIDWithName("process_topk", "a")
	b := component.MustNewIDWithName("process_topk", "b")
	c := component.MustNewIDWithName("process_topk", "c")
	p.RecordDecisions(a, records(3))
	p.RecordDecisions(b, records(5))
	p.RecordDecisions(a, records(2)) // replaces a's 3 records; a is now the latest
	metadatatest.AssertEqualExtensionProcesszSources(t, tel, value(2), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionProcesszRecords(t, tel, value(7), metricdatatest.IgnoreTimestamp())

	p.RecordDecisions(c, records(1)) // evicts b, the least recently reporting
	metadatatest.AssertEqualExtensionProcesszSources(t, tel, value(2), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionProcesszRecords(t, tel, value(3), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionProcesszSourcesEvicted(t, tel, value(1), metricdatatest.IgnoreTimestamp())

	var ids []string
	for _, s := range buildPage(p.store.snapshot(), "", t0).Sources {
		ids = append(ids, s.ID)
	}
	assert.Equal(t, []string{"process_topk/a", "process_topk/c"}, ids)

	p.RecordDecisions(a, nil) // a source with nothing to say is still a source
	metadatatest.AssertEqualExtensionProcesszSources(t, tel, value(2), metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualExtensionProcesszRecords(t, tel, value(1), metricdatatest.IgnoreTimestamp())
}

func TestWantsJSON(t *testing.T) {
	tests := []struct {
		name, query, accept string
		want                bool
	}{
		{name: "nothing asked", want: false},
		{name: "curl", accept: "*/*", want: false},
		{name: "json only", accept: "application/json", want: true},
		{name: "json with parameters", accept: "application/json; charset=utf-8", want: true},
		{name: "browser", accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", want: false},
		{name: "html and json", accept: "text/html, application/json", want: false},
		{name: "format wins over accept", query: "format=html", accept: "application/json", want: false},
		{name: "format json", query: "format=json", accept: "text/html", want: true},
		{name: "malformed accept", accept: ";;,application/json", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, Path+"?"+tt.query, http.NoBody)
			require.NoError(t, err)
			r.Header.Set("Accept", tt.accept)
			got, err := wantsJSON(r)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestUnknownOutcomesAreShown(t *testing.T) {
	page := buildPage([]report{{
		source:  component.MustNewID("process_future"),
		at:      t0,
		records: []decision.Record{{PID: 1, Executable: "x", Outcome: "sampled"}},
	}}, "", t0)
	hp := newHTMLPage(page, "")
	assert.Equal(t, []string{"critical", "kept", "rolled up", "dropped", "sampled"}, hp.OutcomeNames)
	assert.Equal(t, []int{0, 0, 0, 0, 1}, hp.SourceRows[0].Counts)
	assert.Equal(t, []outcomeCount{{Name: "sampled", Count: 1}}, hp.Totals)
}
