package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var experimentTests = []testCase{
	{"CreateAndGet", testExperimentCreate},
	{"CanonicalDocuments", testExperimentDocuments},
	{"CompareAndSwap", testExperimentCAS},
	{"Invalid", testExperimentInvalid},
	{"ListOrderAndPages", testExperimentList},
	{"ResultsAreCopies", testExperimentResultsAreCopies},
}

func newExperiment(id string) store.Experiment {
	return store.Experiment{
		ID:     id,
		Name:   "topk vs baseline",
		Status: apitypes.ExperimentPending,
		Spec:   json.RawMessage(`{"baseline":"process-baseline","candidate":"process-topk"}`),
	}
}

func testExperimentCreate(t *testing.T, s store.Store) {
	before := normTime(time.Now())
	e := newExperiment("e1")
	e.Version = 7 // ignored: a new experiment is version 1
	created, err := s.CreateExperiment(t.Context(), e)
	require.NoError(t, err)
	assert.Equal(t, int64(1), created.Version)
	assert.False(t, created.CreatedAt.Before(before), "a zero CreatedAt is set to now")
	assert.Equal(t, created.CreatedAt, created.UpdatedAt, "a zero UpdatedAt is CreatedAt")
	assert.Nil(t, created.State)

	got, err := s.GetExperiment(t.Context(), "e1")
	require.NoError(t, err)
	assert.Equal(t, created, got)

	_, err = s.CreateExperiment(t.Context(), newExperiment("e1"))
	assert.ErrorIs(t, err, store.ErrConflict)
	got, err = s.GetExperiment(t.Context(), "e1")
	require.NoError(t, err)
	assert.Equal(t, created, got, "a conflicting create writes nothing")

	e = newExperiment("e2")
	e.CreatedAt, e.UpdatedAt = base, base.Add(time.Hour)
	created, err = s.CreateExperiment(t.Context(), e)
	require.NoError(t, err)
	assert.Equal(t, normTime(base), created.CreatedAt)
	assert.Equal(t, normTime(base.Add(time.Hour)), created.UpdatedAt)

	_, err = s.GetExperiment(t.Context(), "missing")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetExperiment(t.Context(), "")
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testExperimentDocuments(t *testing.T, s store.Store) {
	e := newExperiment("e1")
	e.Spec = json.RawMessage(` { "b": 1, "a": {"y": [1, 2.50, 1e2, 1.0e-1, -0, 12345678901234567890123], "x": null},
		"html": "<&>", "u": "\u00e9", "ctl": "\u0001\t\u2028", "b": 2 } `)
	e.State = json.RawMessage(`null`)
	created, err := s.CreateExperiment(t.Context(), e)
	require.NoError(t, err)
	want := `{"a":{"x":null,"y":[1,2.50,100,0.10,0,12345678901234567890123]},"b":2,"ctl":"\u0001\t\u2028","html":"<&>","u":"é"}`
	assert.Equal(t, want, string(created.Spec))
	assert.Nil(t, created.State, "a null document is no document")

	got, err := s.GetExperiment(t.Context(), "e1")
	require.NoError(t, err)
	assert.Equal(t, want, string(got.Spec), "documents read back byte for byte")
	assert.Nil(t, got.State)
}

func testExperimentCAS(t *testing.T, s store.Store) {
	created, err := s.CreateExperiment(t.Context(), newExperiment("e1"))
	require.NoError(t, err)

	update := created
	update.Status = apitypes.ExperimentRunning
	update.State = json.RawMessage(`{"phase":"warmup"}`)
	update.CreatedAt = base // ignored: creation time is immutable
	updated, err := s.UpdateExperiment(t.Context(), update)
	require.NoError(t, err)
	assert.Equal(t, int64(2), updated.Version)
	assert.Equal(t, created.CreatedAt, updated.CreatedAt)
	assert.False(t, updated.UpdatedAt.Before(created.UpdatedAt))
	got, err := s.GetExperiment(t.Context(), "e1")
	require.NoError(t, err)
	assert.Equal(t, updated, got)

	stale := created // version 1
	stale.Status = apitypes.ExperimentCancelled
	_, err = s.UpdateExperiment(t.Context(), stale)
	assert.ErrorIs(t, err, store.ErrConflict)
	got, err = s.GetExperiment(t.Context(), "e1")
	require.NoError(t, err)
	assert.Equal(t, updated, got, "a stale update writes nothing")

	_, err = s.UpdateExperiment(t.Context(), newExperiment("missing"))
	assert.ErrorIs(t, err, store.ErrNotFound)
	invalid := updated
	invalid.Status = "bogus"
	_, err = s.UpdateExperiment(t.Context(), invalid)
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testExperimentInvalid(t *testing.T, s store.Store) {
	mutate := func(f func(*store.Experiment)) store.Experiment {
		e := newExperiment("e1")
		f(&e)
		return e
	}
	for name, e := range map[string]store.Experiment{
		"empty id":       mutate(func(e *store.Experiment) { e.ID = "" }),
		"unknown status": mutate(func(e *store.Experiment) { e.Status = "paused" }),
		"empty status":   mutate(func(e *store.Experiment) { e.Status = "" }),
		"no spec":        mutate(func(e *store.Experiment) { e.Spec = nil }),
		"null spec":      mutate(func(e *store.Experiment) { e.Spec = json.RawMessage("null") }),
		"malformed spec": mutate(func(e *store.Experiment) { e.Spec = json.RawMessage(`{"a":`) }),
		"trailing data":  mutate(func(e *store.Experiment) { e.Spec = json.RawMessage(`{} {}`) }),
		"NUL in spec":    mutate(func(e *store.Experiment) { e.Spec = json.RawMessage(`{"a":"\u0000"}`) }),
		"huge number":    mutate(func(e *store.Experiment) { e.Spec = json.RawMessage(`[1e999999]`) }),
		"year 10000": mutate(func(e *store.Experiment) {
			e.CreatedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		}),
		"malformed state": mutate(func(e *store.Experiment) {
			e.State = json.RawMessage(`nope`)
		}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.CreateExperiment(t.Context(), e)
			assert.ErrorIs(t, err, store.ErrInvalid)
		})
	}
	exps, _, err := s.ListExperiments(t.Context(), store.ExperimentFilter{}, store.Page{})
	require.NoError(t, err)
	assert.Empty(t, exps, "nothing was written")
	assert.NotNil(t, exps, "an empty result is an empty slice")

	_, _, err = s.ListExperiments(t.Context(), store.ExperimentFilter{Status: []apitypes.ExperimentStatus{"bogus"}}, store.Page{})
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, _, err = s.ListExperiments(t.Context(), store.ExperimentFilter{}, store.Page{Limit: -5})
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, _, err = s.ListExperiments(t.Context(), store.ExperimentFilter{}, store.Page{After: "%%%"})
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testExperimentList(t *testing.T, s store.Store) {
	create := func(id string, created time.Time, status apitypes.ExperimentStatus) {
		e := newExperiment(id)
		e.CreatedAt, e.Status = created, status
		_, err := s.CreateExperiment(t.Context(), e)
		require.NoError(t, err)
	}
	// Created out of order; b and a share a creation time, so ID breaks the tie.
	create("now", time.Time{}, apitypes.ExperimentRunning)
	create("c", base.Add(time.Hour), apitypes.ExperimentCompleted)
	create("b", base, apitypes.ExperimentRunning)
	create("z", base.Add(-time.Hour), apitypes.ExperimentFailed)
	create("a", base, apitypes.ExperimentPending)
	for i := range 7 {
		create(fmt.Sprintf("old-%d", i), base.Add(-48*time.Hour), apitypes.ExperimentCancelled)
	}

	var all []string
	after, pages := "", 0
	for {
		exps, next, err := s.ListExperiments(t.Context(), store.ExperimentFilter{}, store.Page{After: after, Limit: 3})
		require.NoError(t, err)
		require.LessOrEqual(t, len(exps), 3)
		for _, e := range exps {
			all = append(all, e.ID)
		}
		pages++
		if next == "" {
			break
		}
		require.Less(t, pages, 100, "pagination does not end")
		after = next
	}
	assert.Equal(t, []string{"old-0", "old-1", "old-2", "old-3", "old-4", "old-5", "old-6", "z", "a", "b", "c", "now"}, all)
	assert.Equal(t, 4, pages)

	exps, next, err := s.ListExperiments(t.Context(),
		store.ExperimentFilter{Status: []apitypes.ExperimentStatus{apitypes.ExperimentRunning, apitypes.ExperimentFailed}}, store.Page{})
	require.NoError(t, err)
	assert.Empty(t, next)
	var ids []string
	for _, e := range exps {
		ids = append(ids, e.ID)
	}
	assert.Equal(t, []string{"z", "b", "now"}, ids)

	exps, next, err = s.ListExperiments(t.Context(),
		store.ExperimentFilter{Status: []apitypes.ExperimentStatus{apitypes.ExperimentRunning}}, store.Page{Limit: 1})
	require.NoError(t, err)
	require.Len(t, exps, 1)
	assert.Equal(t, "b", exps[0].ID)
	exps, next, err = s.ListExperiments(t.Context(),
		store.ExperimentFilter{Status: []apitypes.ExperimentStatus{apitypes.ExperimentRunning}}, store.Page{After: next, Limit: 1})
	require.NoError(t, err)
	require.Len(t, exps, 1)
	assert.Equal(t, "now", exps[0].ID)
	assert.Empty(t, next, "no running experiment follows")
}

func testExperimentResultsAreCopies(t *testing.T, s store.Store) {
	created, err := s.CreateExperiment(t.Context(), newExperiment("e1"))
	require.NoError(t, err)
	want := string(created.Spec)
	created.Spec[2] = 'X'
	got, err := s.GetExperiment(t.Context(), "e1")
	require.NoError(t, err)
	assert.Equal(t, want, string(got.Spec))
	got.Spec[2] = 'Y'
	exps, _, err := s.ListExperiments(t.Context(), store.ExperimentFilter{}, store.Page{})
	require.NoError(t, err)
	require.Len(t, exps, 1)
	assert.Equal(t, want, string(exps[0].Spec))
}
