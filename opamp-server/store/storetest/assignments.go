package storetest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var assignmentTests = []testCase{
	{"RoundTrip", testAssignmentRoundTrip},
	{"Generations", testAssignmentGenerations},
	{"Delete", testAssignmentDelete},
	{"GetMany", testAssignmentGetMany},
	{"Heads", testAssignmentHeads},
	{"Invalid", testAssignmentInvalid},
	{"ResultsAreCopies", testAssignmentResultsAreCopies},
	{"Batch", testAssignmentBatch},
	{"BatchIsAllOrNothing", testAssignmentBatchAllOrNothing},
}

const testConfig = "receivers:\n  hostmetrics: {}\n"

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testAssignmentRoundTrip(t *testing.T, s store.Store) {
	before := time.Now()
	set, err := s.SetAssignment(t.Context(), apitypes.Assignment{
		InstanceUID: "a1",
		Pipeline:    "process-topk",
		Parameters: map[string]any{
			"k": 10, "ratio": 0.5, "name": "<top>", "on": true, "none": nil,
			"rules": []any{"a", map[string]any{"n": int64(2)}},
		},
		Config:     testConfig,
		Reason:     "assigned by alice",
		Generation: 42, // ignored: the store sets it
	})
	require.NoError(t, err)
	want := apitypes.Assignment{
		InstanceUID: "a1",
		Pipeline:    "process-topk",
		// Parameters read back as JSON decodes them: numbers are float64.
		Parameters: map[string]any{
			"k": float64(10), "ratio": 0.5, "name": "<top>", "on": true, "none": nil,
			"rules": []any{"a", map[string]any{"n": float64(2)}},
		},
		Config:     testConfig,
		ConfigHash: sha(testConfig),
		Reason:     "assigned by alice",
		AssignedAt: set.AssignedAt,
		Generation: 1,
	}
	assert.Equal(t, want, set)
	assert.False(t, set.AssignedAt.Before(normTime(before)), "a zero AssignedAt is set to now")
	assert.Equal(t, normTime(set.AssignedAt), set.AssignedAt)

	got, err := s.GetAssignment(t.Context(), "a1")
	require.NoError(t, err)
	assert.Equal(t, set, got)

	// A given AssignedAt and a correct ConfigHash are kept.
	set, err = s.SetAssignment(t.Context(), apitypes.Assignment{
		InstanceUID: "a1", Config: "other: {}\n", ConfigHash: sha("other: {}\n"), AssignedAt: base,
	})
	require.NoError(t, err)
	assert.Equal(t, normTime(base), set.AssignedAt)
	got, err = s.GetAssignment(t.Context(), "a1")
	require.NoError(t, err)
	assert.Equal(t, apitypes.Assignment{
		InstanceUID: "a1", Config: "other: {}\n", ConfigHash: sha("other: {}\n"), AssignedAt: normTime(base), Generation: 2,
	}, got, "a set replaces the whole assignment")

	_, err = s.GetAssignment(t.Context(), "a2")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testAssignmentGenerations(t *testing.T, s store.Store) {
	for want := int64(1); want <= 3; want++ {
		got, err := s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "a1", Config: testConfig})
		require.NoError(t, err)
		assert.Equal(t, want, got.Generation)
	}
	other, err := s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "a2", Config: testConfig})
	require.NoError(t, err)
	assert.Equal(t, int64(1), other.Generation, "generations are per agent")

	require.NoError(t, s.DeleteAssignment(t.Context(), "a1"))
	got, err := s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "a1", Config: testConfig})
	require.NoError(t, err)
	assert.Equal(t, int64(4), got.Generation, "a deletion does not reset the generation")
}

// GetAssignments reads a page's assignments at once: those that exist,
// each as GetAssignment returns it, and refuses a batch over the limit.
func testAssignmentGetMany(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, uid := range []string{"a1", "a3"} {
		_, err := s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: uid, Config: testConfig,
			Parameters: map[string]any{"k": uid}})
		require.NoError(t, err)
	}
	got, err := s.GetAssignments(ctx, []string{"a1", "a2", "a3"})
	require.NoError(t, err)
	require.Len(t, got, 2, "a2 has none")
	for _, uid := range []string{"a1", "a3"} {
		one, err := s.GetAssignment(ctx, uid)
		require.NoError(t, err)
		assert.Equal(t, one, got[uid])
	}
	none, err := s.GetAssignments(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, none)

	_, err = s.GetAssignments(ctx, make([]string, store.MaxBatchKeys+1))
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.GetAssignments(ctx, []string{"a1", "a\x00"})
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testAssignmentDelete(t *testing.T, s store.Store) {
	_, err := s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "a1", Config: testConfig})
	require.NoError(t, err)
	require.NoError(t, s.DeleteAssignment(t.Context(), "a1"))
	_, err = s.GetAssignment(t.Context(), "a1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	assert.NoError(t, s.DeleteAssignment(t.Context(), "a1"), "deleting twice is not an error")
	assert.NoError(t, s.DeleteAssignment(t.Context(), "never-assigned"))
	assert.ErrorIs(t, s.DeleteAssignment(t.Context(), ""), store.ErrInvalid)
}

func testAssignmentInvalid(t *testing.T, s store.Store) {
	for name, a := range map[string]apitypes.Assignment{
		"empty uid":        {Config: testConfig},
		"empty config":     {InstanceUID: "a1"},
		"wrong hash":       {InstanceUID: "a1", Config: testConfig, ConfigHash: sha("something else")},
		"NUL in config":    {InstanceUID: "a1", Config: "a\x00"},
		"NUL in parameter": {InstanceUID: "a1", Config: testConfig, Parameters: map[string]any{"p": "\x00"}},
		"unencodable":      {InstanceUID: "a1", Config: testConfig, Parameters: map[string]any{"ch": make(chan int)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.SetAssignment(t.Context(), a)
			assert.ErrorIs(t, err, store.ErrInvalid)
		})
	}
	_, err := s.GetAssignment(t.Context(), "a1")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing was written")
	_, err = s.GetAssignment(t.Context(), "")
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testAssignmentResultsAreCopies(t *testing.T, s store.Store) {
	in := apitypes.Assignment{InstanceUID: "a1", Config: testConfig, Parameters: map[string]any{"k": 1.0}}
	set, err := s.SetAssignment(t.Context(), in)
	require.NoError(t, err)
	in.Parameters["k"] = 2.0
	set.Parameters["k"] = 3.0
	got, err := s.GetAssignment(t.Context(), "a1")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"k": 1.0}, got.Parameters)
	got.Parameters["k"] = 4.0
	again, err := s.GetAssignment(t.Context(), "a1")
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"k": 1.0}, again.Parameters)
}

func testAssignmentBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	ch, err := s.Watch(ctx)
	require.NoError(t, err)
	_, err = s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "b1", Config: testConfig})
	require.NoError(t, err)
	batch := make([]apitypes.Assignment, 0, 300)
	for i := range 300 {
		batch = append(batch, apitypes.Assignment{InstanceUID: fmt.Sprintf("b%d", i), Pipeline: "topk",
			Parameters: map[string]any{"k": i}, Config: testConfig, Reason: "fleet"})
	}
	out, err := s.SetAssignments(ctx, batch)
	require.NoError(t, err)
	require.Len(t, out, 300)
	for i, a := range out {
		want := int64(1)
		if a.InstanceUID == "b1" {
			want = 2
		}
		assert.Equal(t, want, a.Generation, a.InstanceUID)
		assert.Equal(t, sha(testConfig), a.ConfigHash)
		got, err := s.GetAssignment(ctx, a.InstanceUID)
		require.NoError(t, err)
		assert.Equal(t, a, got)
		assert.EqualValues(t, i, got.Parameters["k"])
	}
	// Watchers hear of the last one, or, if the batch outran them, get a
	// resync (the Watch contract).
	timeout := time.After(30 * time.Second)
	for {
		select {
		case c, ok := <-ch:
			require.True(t, ok, "watch closed")
			if c.Kind == store.ChangeResync || c == (store.Change{Kind: store.ChangeAssignment, ID: "b299"}) {
				return
			}
		case <-timeout:
			require.FailNow(t, "neither the last change nor a resync was delivered")
		}
	}
}

func testAssignmentBatchAllOrNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.SetAssignments(ctx, []apitypes.Assignment{
		{InstanceUID: "ok-1", Config: testConfig},
		{InstanceUID: "bad", Config: ""},
		{InstanceUID: "ok-2", Config: testConfig},
	})
	require.ErrorIs(t, err, store.ErrInvalid)
	assert.Contains(t, err.Error(), "item 2 of 3")
	for _, uid := range []string{"ok-1", "ok-2"} {
		_, err := s.GetAssignment(ctx, uid)
		assert.ErrorIs(t, err, store.ErrNotFound, "%s: nothing of the batch is stored", uid)
	}
	out, err := s.SetAssignments(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, out)
}
