package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// textTests check that stores keep each distinct assignment text once
// (store.TemplateText) and their reference counts exact.
var textTests = []testCase{
	{"SharedTemplate", testTextsSharedTemplate},
	{"ReplacedAndDeleted", testTextsReplacedAndDeleted},
	{"AgentDeletion", testTextsAgentDeletion},
	{"Concurrent", testTextsConcurrent},
}

// countTexts returns how many texts s stores and their references.
func countTexts(t *testing.T, s store.Store) (int, int64) {
	t.Helper()
	tc, ok := s.(store.TextCounter)
	require.True(t, ok, "%T implements store.TextCounter", s)
	texts, refs, err := tc.CountTexts(t.Context())
	require.NoError(t, err)
	return texts, refs
}

// fleetConfig is an agent's rendering of a pipeline: the same text for
// every agent but for its UID.
func fleetConfig(uid, pipeline string) string {
	return fmt.Sprintf("# %s\nexporters:\n  otlp/%s: {}\nservice:\n  telemetry:\n    resource:\n      service.instance.id: %s\n", pipeline, uid, uid)
}

// checkConfigs checks that every read of the assignments returns each
// agent's own text.
func checkConfigs(t *testing.T, s store.Store, want map[string]string) {
	t.Helper()
	uids := make([]string, 0, len(want))
	for uid, config := range want {
		uids = append(uids, uid)
		a, err := s.GetAssignment(t.Context(), uid)
		require.NoError(t, err)
		assert.Equal(t, config, a.Config, uid)
		assert.Equal(t, sha(config), a.ConfigHash, uid)
	}
	many, err := s.GetAssignments(t.Context(), uids)
	require.NoError(t, err)
	heads, err := s.GetAssignmentHeads(t.Context(), uids)
	require.NoError(t, err)
	for uid, config := range want {
		assert.Equal(t, config, many[uid].Config, uid)
		assert.Empty(t, heads[uid].Config, uid)
		assert.Equal(t, sha(config), heads[uid].ConfigHash, uid)
	}
}

func setConfigs(t *testing.T, s store.Store, configs map[string]string) {
	t.Helper()
	var asgs []apitypes.Assignment
	for uid, config := range configs {
		asgs = append(asgs, apitypes.Assignment{InstanceUID: uid, Config: config})
	}
	_, err := s.SetAssignments(t.Context(), asgs)
	require.NoError(t, err)
}

func testTextsSharedTemplate(t *testing.T, s store.Store) {
	want := map[string]string{
		"a-1":     fleetConfig("a-1", "p"),
		"a-2":     fleetConfig("a-2", "p"),
		"a-10":    fleetConfig("a-10", "p"), // a-1 is a prefix of it
		"plain":   testConfig,               // no UID: stored as it is
		"plain-2": testConfig,
		"odd":     "odd: " + store.TextPlaceholder + " service.instance.id: odd\n",
		"u":       "uuu: " + store.TextPlaceholder[:3] + "u" + store.TextPlaceholder[3:] + "\n",
	}
	setConfigs(t, s, want)
	checkConfigs(t, s, want)
	texts, refs := countTexts(t, s)
	assert.Equal(t, 4, texts, "the fleet's, the plain one, odd, u")
	assert.Equal(t, int64(len(want)), refs)

	// Set one by one, with the same texts: nothing changes.
	for uid, config := range want {
		_, err := s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: uid, Config: config})
		require.NoError(t, err)
	}
	checkConfigs(t, s, want)
	texts, refs = countTexts(t, s)
	assert.Equal(t, 4, texts)
	assert.Equal(t, int64(len(want)), refs)
}

func testTextsReplacedAndDeleted(t *testing.T, s store.Store) {
	want := map[string]string{
		"a-1": fleetConfig("a-1", "p"), "a-2": fleetConfig("a-2", "p"), "a-3": fleetConfig("a-3", "p"),
		"b": testConfig,
	}
	setConfigs(t, s, want)
	// Replacing one keeps the shared text for the others.
	want["a-1"] = fleetConfig("a-1", "q")
	setConfigs(t, s, map[string]string{"a-1": want["a-1"]})
	checkConfigs(t, s, want)
	texts, refs := countTexts(t, s)
	assert.Equal(t, 3, texts)
	assert.Equal(t, int64(4), refs)

	// Deleting the last reference drops the text; the others' stay.
	require.NoError(t, s.DeleteAssignment(t.Context(), "b"))
	require.NoError(t, s.DeleteAssignment(t.Context(), "b"), "deleting a missing one")
	delete(want, "b")
	checkConfigs(t, s, want)
	texts, refs = countTexts(t, s)
	assert.Equal(t, 2, texts)
	assert.Equal(t, int64(3), refs)

	// Moving the fleet, and one agent twice in a batch, drops p's text.
	want["a-2"], want["a-3"] = fleetConfig("a-2", "q"), fleetConfig("a-3", "q")
	_, err := s.SetAssignments(t.Context(), []apitypes.Assignment{
		{InstanceUID: "a-2", Config: fleetConfig("a-2", "r")},
		{InstanceUID: "a-3", Config: want["a-3"]},
		{InstanceUID: "a-2", Config: want["a-2"]},
	})
	require.NoError(t, err)
	checkConfigs(t, s, want)
	texts, refs = countTexts(t, s)
	assert.Equal(t, 1, texts)
	assert.Equal(t, int64(3), refs)

	for uid := range want {
		require.NoError(t, s.DeleteAssignment(t.Context(), uid))
	}
	texts, refs = countTexts(t, s)
	assert.Zero(t, texts)
	assert.Zero(t, refs)
}

func testTextsAgentDeletion(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := base.Add(-30 * 24 * time.Hour)
	agent := func(uid string, online bool, lastSeen time.Time) apitypes.Agent {
		a := fullAgent(uid)
		a.Online, a.LastSeen = online, lastSeen
		return a
	}
	upsertAgents(t, s, agent("gone-1", false, cutoff.Add(-time.Hour)), agent("gone-2", false, cutoff.Add(-time.Hour)),
		agent("kept", true, cutoff.Add(-time.Hour)), agent("deleted", true, cutoff))
	want := map[string]string{}
	for _, uid := range []string{"gone-1", "gone-2", "kept", "deleted"} {
		want[uid] = fleetConfig(uid, "p")
	}
	want["gone-2"] = testConfig
	setConfigs(t, s, want)

	require.NoError(t, s.DeleteAgent(ctx, "deleted"))
	delete(want, "deleted")
	texts, refs := countTexts(t, s)
	assert.Equal(t, 2, texts)
	assert.Equal(t, int64(3), refs)

	removed, err := s.DeleteAgentsOfflineSince(ctx, cutoff)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"gone-1", "gone-2"}, removed)
	delete(want, "gone-1")
	delete(want, "gone-2")
	checkConfigs(t, s, want)
	texts, refs = countTexts(t, s)
	assert.Equal(t, 1, texts, "kept's text stays")
	assert.Equal(t, int64(1), refs)
}

// Writers on overlapping agents, moving them between shared texts and
// texts of their own, leave every agent's own text and exact counts.
func testTextsConcurrent(t *testing.T, s store.Store) {
	const writers, rounds, agents = 4, 8, 24
	uid := func(i int) string { return fmt.Sprintf("agent-%02d", i) }
	var wg sync.WaitGroup
	errs := make(chan error, writers*rounds)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				var asgs []apitypes.Assignment
				for i := w * 4; i < w*4+12; i++ { // overlapping ranges, in different orders
					j := i % agents
					if (w+r)%2 == 1 {
						j = (w*4 + 11 - (i - w*4)) % agents
					}
					config := fleetConfig(uid(j), fmt.Sprintf("p%d", r%3))
					if j%5 == 0 {
						config = fmt.Sprintf("own: %d %d\n", w, r) // no UID: shared by whoever writes it
					}
					asgs = append(asgs, apitypes.Assignment{InstanceUID: uid(j), Config: config})
				}
				if _, err := s.SetAssignments(t.Context(), asgs); err != nil {
					errs <- err
				}
				if r%3 == 2 {
					if err := s.DeleteAssignment(t.Context(), uid((w*4+r)%agents)); err != nil {
						errs <- err
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	uids := make([]string, agents)
	for i := range uids {
		uids[i] = uid(i)
	}
	got, err := s.GetAssignments(t.Context(), uids)
	require.NoError(t, err)
	distinct := map[string]bool{}
	for id, a := range got {
		assert.Equal(t, sha(a.Config), a.ConfigHash, id)
		if a.Config[:3] != "own" {
			assert.Contains(t, a.Config, "service.instance.id: "+id+"\n", id)
		}
		text, _ := store.TemplateText(a.Config, id)
		distinct[text] = true
	}
	texts, refs := countTexts(t, s)
	assert.Equal(t, len(distinct), texts)
	assert.Equal(t, int64(len(got)), refs)
}
