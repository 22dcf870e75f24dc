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
	windows := []struct {
		name     string
		from, to time.Time
	}{
		{"from inclusive to exclusive", mi(1), mi(3)},
		{"from mid-minute", mi(1).Add(time.Second), mi(4)},
		{"open", time.Time{}, time.Time{}},
		{"from only", mi(2), time.Time{}},
		{"to only", time.Time{}, mi(1)},
		{"empty", mi(1), mi(1)},
	}
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			got, err := s.QueryAgentsSamples(t.Context(), uids, w.from, w.to)
			require.NoError(t, err)
			want := map[string][]apitypes.Sample{}
			for _, uid := range uids {
				one, err := s.QuerySamples(t.Context(), store.SampleQuery{InstanceUID: uid, From: w.from, To: w.to})
				require.NoError(t, err)
				if len(one) > 0 {
					want[uid] = one
				}
			}
			assert.Equal(t, want, got, "each agent's window as QuerySamples reads it")
			assert.NotContains(t, got, "zz", "an unknown agent has no entry")
			assert.NotContains(t, got, "ab", "only the named agents")
		})
	}

	got, err := s.QueryAgentsSamples(t.Context(), []string{"a", "b"}, mi(1), mi(3))
	require.NoError(t, err)
	assert.Equal(t, map[string][]apitypes.Sample{
		"a": {sampleFixture[2], sampleFixture[3], sampleFixture[5], sampleFixture[7]},
		"b": {sampleFixture[10]},
	}, got)

	for _, none := range [][]string{nil, {}, {"zz"}} {
		got, err := s.QueryAgentsSamples(t.Context(), none, time.Time{}, time.Time{})
		require.NoError(t, err)
		assert.NotNil(t, got, "an empty result is an empty map")
		assert.Empty(t, got)
	}
}

func testAgentsSamplesInvalid(t *testing.T, s store.Store) {
	require.NoError(t, s.PutSamples(t.Context(), sampleFixture))
	_, err := s.QueryAgentsSamples(t.Context(), []string{"a"}, mi(2), mi(1))
	assert.ErrorIs(t, err, store.ErrInvalid, "to before from")
	_, err = s.QueryAgentsSamples(t.Context(), []string{"a"}, time.Time{}, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))
	assert.ErrorIs(t, err, store.ErrInvalid, "year 10000")
	_, err = s.QueryAgentsSamples(t.Context(), []string{"a", ""}, time.Time{}, time.Time{})
	assert.ErrorIs(t, err, store.ErrInvalid, "an empty uid")

	many := make([]string, store.MaxBatchKeys+1)
	for i := range many {
		many[i] = fmt.Sprintf("agent-%d", i)
	}
	_, err = s.QueryAgentsSamples(t.Context(), many, time.Time{}, time.Time{})
	assert.ErrorIs(t, err, store.ErrInvalid, "more than MaxBatchKeys")
	got, err := s.QueryAgentsSamples(t.Context(), many[:store.MaxBatchKeys], time.Time{}, time.Time{})
	require.NoError(t, err)
	assert.Empty(t, got, "MaxBatchKeys is allowed")
}
