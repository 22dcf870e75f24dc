package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// GetAssignmentHeads is GetAssignments minus Config, GetAssignmentBriefs
// heads minus Parameters, with their bounds.
func testAssignmentHeads(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.SetAssignments(ctx, []apitypes.Assignment{
		{InstanceUID: "a1", Pipeline: "process-topk", Config: testConfig, Reason: "assigned by alice",
			Parameters: map[string]any{"k": 10, "rules": []any{"a", map[string]any{"n": 2}}}},
		{InstanceUID: "a3", Config: "other: {}\n", AssignedAt: base},
	})
	require.NoError(t, err)
	// A second set: the head carries the new generation and text's hash.
	_, err = s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "a3", Config: testConfig, AssignedAt: base})
	require.NoError(t, err)

	uids := []string{"a1", "a2", "a3"}
	full, err := s.GetAssignments(ctx, uids)
	require.NoError(t, err)
	heads, err := s.GetAssignmentHeads(ctx, uids)
	require.NoError(t, err)
	require.Len(t, heads, 2, "a2 has none")
	for uid, want := range full {
		require.NotEmpty(t, want.Config)
		want.Config = ""
		assert.Equal(t, want, heads[uid], uid)
	}
	assert.Equal(t, int64(2), heads["a3"].Generation)
	assert.Equal(t, sha(testConfig), heads["a3"].ConfigHash)

	// Briefs are heads without the parameters.
	briefs, err := s.GetAssignmentBriefs(ctx, uids)
	require.NoError(t, err)
	require.Len(t, briefs, 2, "a2 has none")
	for uid, want := range heads {
		want.Parameters = nil
		assert.Equal(t, want, briefs[uid], uid)
	}
	assert.Equal(t, "process-topk", briefs["a1"].Pipeline)

	// Heads are copies, and reading them leaves the full record whole.
	heads["a1"].Parameters["k"] = "changed"
	again, err := s.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, full["a1"], again)

	// A deleted assignment has no head.
	require.NoError(t, s.DeleteAssignment(ctx, "a1"))
	heads, err = s.GetAssignmentHeads(ctx, uids)
	require.NoError(t, err)
	assert.NotContains(t, heads, "a1")
	assert.Contains(t, heads, "a3")

	none, err := s.GetAssignmentHeads(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, none)
	many := make([]string, store.MaxBatchKeys)
	for i := range many {
		many[i] = "a3"
	}
	heads, err = s.GetAssignmentHeads(ctx, many)
	require.NoError(t, err, "MaxBatchKeys keys are allowed")
	assert.Len(t, heads, 1)
	_, err = s.GetAssignmentHeads(ctx, append(many, "a3"))
	assert.ErrorIs(t, err, store.ErrInvalid, "over MaxBatchKeys")
	_, err = s.GetAssignmentHeads(ctx, []string{"a3", "a\x00"})
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.GetAssignmentHeads(ctx, []string{""})
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, err = s.GetAssignmentBriefs(ctx, append(many, "a3"))
	assert.ErrorIs(t, err, store.ErrInvalid, "over MaxBatchKeys")
	_, err = s.GetAssignmentBriefs(ctx, []string{""})
	assert.ErrorIs(t, err, store.ErrInvalid)
}
