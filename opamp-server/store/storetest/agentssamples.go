package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

func testAgentsSamples(t *testing.T, s store.Store) {
	require.NoError(t, s.PutSamples(t.Context(), sampleFixture))
	// Neighbours of the queried agents by key: "a" is a prefix of "ab".
	uids := []string{"b", "a", "zz", "A", "a"}
	for name, q := range map[string]store.SampleQuery{
		"from inclusive to exclusive": {From: mi(1), To: mi(3)},
		"from mid-minute":             {From: mi(1).Add(time.Second), To: mi(4)},
		"open":                        {},
		"from only":                   {From: mi(2)},
		"to only":                     {To: mi(1)},
		"empty window":                {From: mi(1), To: mi(1)},
		"name":                        {Name: "cpu", From: mi(1)},
		"name and variant":            {Name: "cost_meter.datapoints", Variant: "topk", To: mi(3)},
		"variant":                     {Variant: "topk"},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := s.QueryAgentsSamples(t.Context(), uids, q)
			require.NoError(t, err)
			want := map[string][]apitypes.Sample{}
			for _, uid := range uids {
				one := q
				one.InstanceUID = uid
				samples, err := s.QuerySamples(t.Context(), one)
				require.NoError(t, err)
				if len(samples) > 0 {
					want[uid] = samples
				}
			}
			assert.Equal(t, want, got, "each agent's samples as QuerySamples reads them")
			assert.NotContains(t, got, "zz", "an unknown agent has no entry")
			assert.NotContains(t, got, "ab", "only the named agents")
		})
	}

	got, err := s.QueryAgentsSamples(t.Context(), []string{"a", "b"}, store.SampleQuery{From: mi(1), To: mi(3)})
	require.NoError(t, err)
	assert.Equal(t, map[string][]apitypes.Sample{
		"a": {sampleFixture[2], sampleFixture[3], sampleFixture[5], sampleFixture[7]},
		"b": {sampleFixture[10]},
	}, got, "every series of each agent, cut to the window, ordered by name, variant and minute")

	for _, none := range [][]string{nil, {}, {"zz"}} {
		got, err := s.QueryAgentsSamples(t.Context(), none, store.SampleQuery{})
		require.NoError(t, err)
		assert.NotNil(t, got, "an empty result is an empty map")
		assert.Empty(t, got)
	}
}

func testAgentsSamplesInvalid(t *testing.T, s store.Store) {
	require.NoError(t, s.PutSamples(t.Context(), sampleFixture))
	for name, q := range map[string]store.SampleQuery{
		"to before from":             {From: mi(2), To: mi(1)},
		"year 10000":                 {To: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"an instance_uid of its own": {InstanceUID: "a"},
		"NUL in name":                {Name: "\x00"},
	} {
		_, err := s.QueryAgentsSamples(t.Context(), []string{"a"}, q)
		assert.ErrorIs(t, err, store.ErrInvalid, name)
	}
	_, err := s.QueryAgentsSamples(t.Context(), []string{"a", ""}, store.SampleQuery{})
	assert.ErrorIs(t, err, store.ErrInvalid, "an empty uid")

	many := make([]string, store.MaxBatchKeys+1)
	for i := range many {
		many[i] = fmt.Sprintf("agent-%d", i)
	}
	_, err = s.QueryAgentsSamples(t.Context(), many, store.SampleQuery{})
	assert.ErrorIs(t, err, store.ErrInvalid, "more than MaxBatchKeys")
	got, err := s.QueryAgentsSamples(t.Context(), many[:store.MaxBatchKeys], store.SampleQuery{})
	require.NoError(t, err)
	assert.Empty(t, got, "MaxBatchKeys is allowed")
}
