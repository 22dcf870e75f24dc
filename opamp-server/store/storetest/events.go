package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var eventTests = []testCase{
	{"AppendAndList", testEventsAppendAndList},
	{"Invalid", testEventsInvalid},
	{"ConcurrentAppends", testEventsConcurrent},
}

func testEventsAppendAndList(t *testing.T, s store.Store) {
	for _, id := range []string{"e1", "e2"} {
		_, err := s.CreateExperiment(t.Context(), newExperiment(id))
		require.NoError(t, err)
	}
	events, err := s.ListExperimentEvents(t.Context(), "e1")
	require.NoError(t, err)
	assert.Empty(t, events)
	assert.NotNil(t, events, "an empty result is an empty slice")

	before := normTime(time.Now())
	var appended []apitypes.ExperimentEvent
	for i, ev := range []apitypes.ExperimentEvent{
		{ExperimentID: "e1", Time: base, To: apitypes.ExperimentPending, Cause: "created by alice"},
		{ExperimentID: "e1", From: apitypes.ExperimentPending, To: apitypes.ExperimentDeploying, Cause: "started", Seq: 99},
		{ExperimentID: "e1", Cause: "agent a1 applied the candidate"},
	} {
		got, err := s.AppendExperimentEvent(t.Context(), ev)
		require.NoError(t, err)
		assert.Equal(t, int64(i+1), got.Seq, "the store assigns Seq")
		appended = append(appended, got)
	}
	assert.Equal(t, normTime(base), appended[0].Time)
	assert.False(t, appended[1].Time.Before(before), "a zero Time is set to now")
	assert.Equal(t, apitypes.ExperimentEvent{
		ExperimentID: "e1", Seq: 2, Time: appended[1].Time,
		From: apitypes.ExperimentPending, To: apitypes.ExperimentDeploying, Cause: "started",
	}, appended[1])

	other, err := s.AppendExperimentEvent(t.Context(), apitypes.ExperimentEvent{ExperimentID: "e2", Cause: "created"})
	require.NoError(t, err)
	assert.Equal(t, int64(1), other.Seq, "sequences are per experiment")

	events, err = s.ListExperimentEvents(t.Context(), "e1")
	require.NoError(t, err)
	assert.Equal(t, appended, events)
}

func testEventsInvalid(t *testing.T, s store.Store) {
	_, err := s.AppendExperimentEvent(t.Context(), apitypes.ExperimentEvent{ExperimentID: "missing", Cause: "x"})
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.ListExperimentEvents(t.Context(), "missing")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.ListExperimentEvents(t.Context(), "")
	assert.ErrorIs(t, err, store.ErrInvalid)

	_, err = s.CreateExperiment(t.Context(), newExperiment("e1"))
	require.NoError(t, err)
	for name, ev := range map[string]apitypes.ExperimentEvent{
		"empty experiment": {Cause: "x"},
		"empty cause":      {ExperimentID: "e1"},
		"NUL in cause":     {ExperimentID: "e1", Cause: "\x00"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.AppendExperimentEvent(t.Context(), ev)
			assert.ErrorIs(t, err, store.ErrInvalid)
		})
	}
	events, err := s.ListExperimentEvents(t.Context(), "e1")
	require.NoError(t, err)
	assert.Empty(t, events, "nothing was written")
}

func testEventsConcurrent(t *testing.T, s store.Store) {
	_, err := s.CreateExperiment(t.Context(), newExperiment("e1"))
	require.NoError(t, err)
	const writers, perWriter = 8, 10
	var (
		mu   sync.Mutex
		seqs []int64
		wg   sync.WaitGroup
	)
	for range writers {
		wg.Go(func() {
			for range perWriter {
				ev, err := s.AppendExperimentEvent(t.Context(), apitypes.ExperimentEvent{ExperimentID: "e1", Cause: "tick"})
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				seqs = append(seqs, ev.Seq)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(seqs)
	want := make([]int64, writers*perWriter)
	for i := range want {
		want[i] = int64(i + 1)
	}
	assert.Equal(t, want, seqs, "every Seq once, no gaps")

	events, err := s.ListExperimentEvents(t.Context(), "e1")
	require.NoError(t, err)
	got := make([]int64, 0, len(events))
	for _, ev := range events {
		got = append(got, ev.Seq)
	}
	assert.Equal(t, want, got, "listed in Seq order")
}
