package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var sampleTests = []testCase{
	{"QueryOrderAndFilters", testSampleQueries},
	{"Replace", testSampleReplace},
	{"DeleteBefore", testSampleDeleteBefore},
	{"Invalid", testSampleInvalid},
	{"AgentsWindows", testAgentsSamples},
	{"AgentsWindowsInvalid", testAgentsSamplesInvalid},
}

// m0 is a minute start; mi(i) the i-th minute after it.
var m0 = time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)

func mi(i int) time.Time { return m0.Add(time.Duration(i) * time.Minute) }

func sample(uid, name, variant string, minute int, v float64) apitypes.Sample {
	return apitypes.Sample{InstanceUID: uid, Name: name, Variant: variant, Minute: mi(minute), Value: v}
}

// sampleFixture is in key order.
var sampleFixture = []apitypes.Sample{
	sample("A", "cpu", "", 0, 1),
	sample("a", "cost_meter.datapoints", "topk", 0, 2),
	sample("a", "cost_meter.datapoints", "topk", 1, 3),
	sample("a", "cost_meter.datapoints", "topk", 2, 4),
	sample("a", "cost_meter.datapoints", "topk", 3, 5),
	sample("a", "cost_meter.datapoints", "whole", 1, 6),
	sample("a", "cpu", "", 0, 7),
	sample("a", "cpu", "", 1, 8),
	sample("a", "cpu", "topk", 0, 9),
	sample("ab", "cpu", "", 0, 10),
	sample("b", "cpu", "", 2, -11.5),
}

func testSampleQueries(t *testing.T, s store.Store) {
	// Written out of order, one minute with seconds to be truncated.
	in := make([]apitypes.Sample, 0, len(sampleFixture))
	for i := len(sampleFixture) - 1; i >= 0; i-- {
		in = append(in, sampleFixture[i])
	}
	in[0].Minute = in[0].Minute.Add(42*time.Second + 7).In(time.FixedZone("UTC-5", -5*3600))
	require.NoError(t, s.PutSamples(t.Context(), in))

	pick := func(idx ...int) []apitypes.Sample {
		out := []apitypes.Sample{}
		for _, i := range idx {
			out = append(out, sampleFixture[i])
		}
		return out
	}
	tests := []struct {
		name string
		q    store.SampleQuery
		want []apitypes.Sample
	}{
		{"all", store.SampleQuery{}, sampleFixture},
		{"agent", store.SampleQuery{InstanceUID: "a"}, pick(1, 2, 3, 4, 5, 6, 7, 8)},
		{"agent and name", store.SampleQuery{InstanceUID: "a", Name: "cpu"}, pick(6, 7, 8)},
		{"series", store.SampleQuery{InstanceUID: "a", Name: "cost_meter.datapoints", Variant: "topk"}, pick(1, 2, 3, 4)},
		{"series from inclusive to exclusive",
			store.SampleQuery{InstanceUID: "a", Name: "cost_meter.datapoints", Variant: "topk", From: mi(1), To: mi(3)},
			pick(2, 3)},
		{"series from mid-minute", store.SampleQuery{InstanceUID: "a", Name: "cost_meter.datapoints", Variant: "topk",
			From: mi(1).Add(time.Second)}, pick(3, 4)},
		{"series to only", store.SampleQuery{InstanceUID: "a", Name: "cost_meter.datapoints", Variant: "topk", To: mi(1)}, pick(1)},
		{"name across agents", store.SampleQuery{Name: "cpu"}, pick(0, 6, 7, 8, 9, 10)},
		{"variant across agents", store.SampleQuery{Variant: "topk"}, pick(1, 2, 3, 4, 8)},
		{"agent and variant", store.SampleQuery{InstanceUID: "a", Variant: "whole"}, pick(5)},
		{"time range across agents", store.SampleQuery{From: mi(1), To: mi(2)}, pick(2, 5, 7)},
		// An agent's window: every series of the agent, each cut to it.
		{"agent window", store.SampleQuery{InstanceUID: "a", From: mi(1), To: mi(3)}, pick(2, 3, 5, 7)},
		{"agent and name from", store.SampleQuery{InstanceUID: "a", Name: "cpu", From: mi(1)}, pick(7)},
		{"agent and variant to", store.SampleQuery{InstanceUID: "a", Variant: "topk", To: mi(1)}, pick(1, 8)},
		{"name and variant from, across agents", store.SampleQuery{Name: "cost_meter.datapoints", Variant: "topk", From: mi(2)}, pick(3, 4)},
		{"empty range", store.SampleQuery{From: mi(1), To: mi(1)}, pick()},
		{"unknown agent", store.SampleQuery{InstanceUID: "zz"}, pick()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.QuerySamples(t.Context(), tt.q)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	_, err := s.QuerySamples(t.Context(), store.SampleQuery{From: mi(2), To: mi(1)})
	assert.ErrorIs(t, err, store.ErrInvalid, "to before from")
}

func testSampleReplace(t *testing.T, s store.Store) {
	require.NoError(t, s.PutSamples(t.Context(), []apitypes.Sample{sample("a", "cpu", "", 0, 1), sample("a", "cpu", "", 1, 2)}))
	// A later write replaces; within one batch the last value wins.
	require.NoError(t, s.PutSamples(t.Context(), []apitypes.Sample{
		sample("a", "cpu", "", 0, 10),
		sample("a", "cpu", "", 0, 20),
	}))
	require.NoError(t, s.PutSamples(t.Context(), nil), "an empty batch is fine")
	got, err := s.QuerySamples(t.Context(), store.SampleQuery{InstanceUID: "a"})
	require.NoError(t, err)
	assert.Equal(t, []apitypes.Sample{sample("a", "cpu", "", 0, 20), sample("a", "cpu", "", 1, 2)}, got)
}

func testSampleDeleteBefore(t *testing.T, s store.Store) {
	require.NoError(t, s.PutSamples(t.Context(), sampleFixture))
	require.NoError(t, s.DeleteSamplesBefore(t.Context(), mi(2)))
	got, err := s.QuerySamples(t.Context(), store.SampleQuery{})
	require.NoError(t, err)
	assert.Equal(t, []apitypes.Sample{sampleFixture[3], sampleFixture[4], sampleFixture[10]}, got, "samples at t are kept")

	require.NoError(t, s.DeleteSamplesBefore(t.Context(), mi(100)))
	got, err = s.QuerySamples(t.Context(), store.SampleQuery{})
	require.NoError(t, err)
	assert.Empty(t, got)
	assert.NotNil(t, got, "an empty result is an empty slice")
}

func testSampleInvalid(t *testing.T, s store.Store) {
	valid := sample("a", "cpu", "", 0, 1)
	for name, bad := range map[string]apitypes.Sample{
		"empty uid":      {Name: "cpu", Minute: m0},
		"empty name":     {InstanceUID: "a", Minute: m0},
		"zero minute":    {InstanceUID: "a", Name: "cpu"},
		"NUL in variant": {InstanceUID: "a", Name: "cpu", Variant: "\x00", Minute: m0},
		"year 10000":     {InstanceUID: "a", Name: "cpu", Minute: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.PutSamples(t.Context(), []apitypes.Sample{valid, bad})
			assert.ErrorIs(t, err, store.ErrInvalid)
		})
	}
	got, err := s.QuerySamples(t.Context(), store.SampleQuery{})
	require.NoError(t, err)
	assert.Empty(t, got, "a batch with an invalid sample writes nothing")

	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	assert.ErrorIs(t, s.DeleteSamplesBefore(t.Context(), far), store.ErrInvalid)
	_, err = s.QuerySamples(t.Context(), store.SampleQuery{To: far})
	assert.ErrorIs(t, err, store.ErrInvalid)
}
