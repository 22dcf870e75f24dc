package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var watchTests = []testCase{
	{"DeliversEveryKind", testWatchDelivers},
	{"EndsWithContext", testWatchEndsWithContext},
}

func testWatchDelivers(t *testing.T, s store.Store) {
	w1, err := s.Watch(t.Context())
	require.NoError(t, err)
	w2, err := s.Watch(t.Context())
	require.NoError(t, err)

	ctx := t.Context()
	require.NoError(t, s.UpsertAgent(ctx, fullAgent("a1")))
	_, err = s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "a1", Config: testConfig})
	require.NoError(t, err)
	require.NoError(t, s.DeleteAssignment(ctx, "a1"))
	e, err := s.CreateExperiment(ctx, newExperiment("e1"))
	require.NoError(t, err)
	e.State = json.RawMessage(`{"phase":"deploying"}`)
	_, err = s.UpdateExperiment(ctx, e)
	require.NoError(t, err)
	require.NoError(t, s.MarkServerAgentsOffline(ctx, "replica-1"))

	want := []store.Change{
		{Kind: store.ChangeAgent, ID: "a1"},
		{Kind: store.ChangeAssignment, ID: "a1"},
		{Kind: store.ChangeAssignment, ID: "a1"},
		{Kind: store.ChangeExperiment, ID: "e1"},
		{Kind: store.ChangeExperiment, ID: "e1"},
		{Kind: store.ChangeAgent, ID: "a1"},
	}
	for name, ch := range map[string]<-chan store.Change{"first watcher": w1, "second watcher": w2} {
		got := make([]store.Change, 0, len(want))
		for range want {
			got = append(got, nextChange(t, ch))
		}
		assert.Equal(t, want, got, "%s sees every change, in commit order", name)
	}
}

func testWatchEndsWithContext(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.Watch(ctx)
	require.NoError(t, err)
	cancel()
	waitClosed(t, ch)

	// Other watchers are unaffected.
	live, err := s.Watch(t.Context())
	require.NoError(t, err)
	_, err = s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "a1", Config: testConfig})
	require.NoError(t, err)
	waitChange(t, live, store.Change{Kind: store.ChangeAssignment, ID: "a1"})

	_, err = s.Watch(cancelled(t))
	assert.ErrorIs(t, err, context.Canceled)
}
