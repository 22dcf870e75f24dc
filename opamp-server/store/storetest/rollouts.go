package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/store"
)

var rolloutTests = []testCase{
	{"CreateAndGet", testRolloutCreate},
	{"CompareAndSwap", testRolloutCAS},
	{"Invalid", testRolloutInvalid},
	{"ListNewestFirstAndActive", testRolloutList},
}

func newRollout(id string) store.Rollout {
	return store.Rollout{ID: id, Active: true, Doc: json.RawMessage(`{"waves": [1, 100], "state":"rolling"}`)}
}

func testRolloutCreate(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := newRollout("r1")
	r.CreatedAt = base
	created, err := s.CreateRollout(ctx, r)
	require.NoError(t, err)
	assert.Equal(t, int64(1), created.Version)
	assert.Equal(t, normTime(base), created.CreatedAt)
	assert.Equal(t, created.CreatedAt, created.UpdatedAt)
	// Documents come back canonical from either store.
	assert.JSONEq(t, `{"state":"rolling","waves":[1,100]}`, string(created.Doc))
	assert.Equal(t, `{"state":"rolling","waves":[1,100]}`, string(created.Doc))

	got, err := s.GetRollout(ctx, "r1")
	require.NoError(t, err)
	assert.Equal(t, created, got)

	_, err = s.CreateRollout(ctx, r)
	assert.ErrorIs(t, err, store.ErrConflict)
	_, err = s.GetRollout(ctx, "nope")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testRolloutCAS(t *testing.T, s store.Store) {
	ctx := t.Context()
	r, err := s.CreateRollout(ctx, newRollout("r1"))
	require.NoError(t, err)

	next := r
	next.Active, next.Doc = false, json.RawMessage(`{"state":"completed"}`)
	updated, err := s.UpdateRollout(ctx, next)
	require.NoError(t, err)
	assert.Equal(t, int64(2), updated.Version)
	assert.Equal(t, r.CreatedAt, updated.CreatedAt)
	assert.False(t, updated.Active)

	// A writer holding the old version loses, and changes nothing.
	stale := r
	stale.Doc = json.RawMessage(`{"state":"halted"}`)
	_, err = s.UpdateRollout(ctx, stale)
	require.ErrorIs(t, err, store.ErrConflict)
	got, err := s.GetRollout(ctx, "r1")
	require.NoError(t, err)
	assert.Equal(t, updated, got)

	missing := newRollout("gone")
	missing.Version = 1
	_, err = s.UpdateRollout(ctx, missing)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testRolloutInvalid(t *testing.T, s store.Store) {
	ctx := t.Context()
	for name, r := range map[string]store.Rollout{
		"no id":        {Doc: json.RawMessage(`{}`)},
		"NUL in id":    {ID: "a\x00b", Doc: json.RawMessage(`{}`)},
		"no document":  {ID: "r"},
		"null":         {ID: "r", Doc: json.RawMessage(`null`)},
		"malformed":    {ID: "r", Doc: json.RawMessage(`{"a":`)},
		"NUL in a doc": {ID: "r", Doc: json.RawMessage(`{"a":"\u0000"}`)},
	} {
		_, err := s.CreateRollout(ctx, r)
		assert.ErrorIs(t, err, store.ErrInvalid, name)
		r.Version = 1
		_, err = s.UpdateRollout(ctx, r)
		assert.ErrorIs(t, err, store.ErrInvalid, name)
	}
	_, err := s.ListRollouts(ctx, store.RolloutFilter{Limit: -1})
	assert.ErrorIs(t, err, store.ErrInvalid)
	list, err := s.ListRollouts(ctx, store.RolloutFilter{})
	require.NoError(t, err)
	assert.Empty(t, list, "nothing invalid was stored")
}

func testRolloutList(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 5 {
		r := newRollout(fmt.Sprintf("r%d", i))
		r.CreatedAt = base.Add(-time.Duration(i) * time.Minute)
		r.Active = i%2 == 0
		_, err := s.CreateRollout(ctx, r)
		require.NoError(t, err)
	}
	ids := func(f store.RolloutFilter) []string {
		list, err := s.ListRollouts(ctx, f)
		require.NoError(t, err)
		out := make([]string, len(list))
		for i, r := range list {
			out[i] = r.ID
		}
		return out
	}
	assert.Equal(t, []string{"r0", "r1", "r2", "r3", "r4"}, ids(store.RolloutFilter{}))
	assert.Equal(t, []string{"r0", "r2", "r4"}, ids(store.RolloutFilter{Active: true}))
	assert.Equal(t, []string{"r0", "r1"}, ids(store.RolloutFilter{Limit: 2}))
}
