package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var agentTests = []testCase{
	{"RoundTrip", testAgentRoundTrip},
	{"UpsertReplaces", testAgentUpsertReplaces},
	{"EffectiveConfigKept", testAgentEffectiveConfigKept},
	{"NotFound", testAgentNotFound},
	{"Invalid", testAgentInvalid},
	{"Filters", testAgentFilters},
	{"Pagination", testAgentPagination},
	{"PageLimits", testAgentPageLimits},
	{"MarkServerAgentsOffline", testMarkServerAgentsOffline},
	{"ResultsAreCopies", testAgentResultsAreCopies},
	{"Delete", testAgentDelete},
	{"DeleteOfflineSince", testAgentDeleteOfflineSince},
}

func testAgentRoundTrip(t *testing.T, s store.Store) {
	require.NoError(t, s.UpsertAgent(t.Context(), fullAgent("a1")))
	got, err := s.GetAgent(t.Context(), "a1")
	require.NoError(t, err)
	assert.Equal(t, storedAgent("a1"), got)

	// Empty maps and slices read back nil; a nil Health stays nil.
	sparse := apitypes.Agent{InstanceUID: "a2", Labels: map[string]string{}, FailedConfigHashes: []string{}}
	require.NoError(t, s.UpsertAgent(t.Context(), sparse))
	got, err = s.GetAgent(t.Context(), "a2")
	require.NoError(t, err)
	assert.Equal(t, apitypes.Agent{InstanceUID: "a2"}, got)
}

func testAgentUpsertReplaces(t *testing.T, s store.Store) {
	require.NoError(t, s.UpsertAgent(t.Context(), fullAgent("a1")))
	replacement := apitypes.Agent{
		InstanceUID: "a1",
		Labels:      map[string]string{"env": "dev"},
		LastSeen:    base,
	}
	require.NoError(t, s.UpsertAgent(t.Context(), replacement))
	got, err := s.GetAgent(t.Context(), "a1")
	require.NoError(t, err)
	replacement.LastSeen = normTime(base)
	assert.Equal(t, replacement, got, "an upsert replaces the whole record")
}

// The effective configuration's text is written when it changes: an
// upsert without it keeps the stored text while the hash is unchanged, and
// lists leave it out.
func testAgentEffectiveConfigKept(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := fullAgent("a1")
	require.NoError(t, s.UpsertAgent(ctx, a))

	status := a
	status.EffectiveConfig, status.SequenceNum = "", a.SequenceNum+1
	require.NoError(t, s.UpsertAgent(ctx, status))
	got, err := s.GetAgent(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, a.EffectiveConfig, got.EffectiveConfig, "unchanged hash: the text is kept")
	assert.Equal(t, a.SequenceNum+1, got.SequenceNum, "the rest of the record is replaced")

	listed, _, err := s.ListAgents(ctx, store.AgentFilter{}, store.Page{})
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Empty(t, listed[0].EffectiveConfig, "lists leave the text out")
	assert.Equal(t, a.EffectiveConfigHash, listed[0].EffectiveConfigHash)
	brief, err := s.GetAgentBrief(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, listed[0], brief, "a brief read is the listed record")
	_, err = s.GetAgentBrief(ctx, "missing")
	assert.ErrorIs(t, err, store.ErrNotFound)

	// A new hash with its text replaces both; a new hash without text (an
	// empty configuration) does not keep the old text.
	changed := status
	changed.EffectiveConfig, changed.EffectiveConfigHash = "receivers:\n  otlp: {}\n", "9a0b"
	require.NoError(t, s.UpsertAgent(ctx, changed))
	got, err = s.GetAgent(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, changed.EffectiveConfig, got.EffectiveConfig)
	assert.Equal(t, "9a0b", got.EffectiveConfigHash)

	empty := status
	empty.EffectiveConfigHash = "e3b0"
	require.NoError(t, s.UpsertAgent(ctx, empty))
	got, err = s.GetAgent(ctx, "a1")
	require.NoError(t, err)
	assert.Empty(t, got.EffectiveConfig, "another hash's text is not this one's")
	assert.Equal(t, "e3b0", got.EffectiveConfigHash)

	// Deleting the agent deletes its text: an agent that comes back under
	// the same UID with the old hash does not find it.
	empty.EffectiveConfig = "receivers: {}\n"
	require.NoError(t, s.UpsertAgent(ctx, empty))
	require.NoError(t, s.DeleteAgent(ctx, "a1"))
	again := apitypes.Agent{InstanceUID: "a1", EffectiveConfigHash: "e3b0"}
	require.NoError(t, s.UpsertAgent(ctx, again))
	got, err = s.GetAgent(ctx, "a1")
	require.NoError(t, err)
	assert.Empty(t, got.EffectiveConfig)
}

func testAgentNotFound(t *testing.T, s store.Store) {
	_, err := s.GetAgent(t.Context(), "missing")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func testAgentInvalid(t *testing.T, s store.Store) {
	long := strings.Repeat("x", store.MaxKeyLength+1)
	for name, a := range map[string]apitypes.Agent{
		"empty uid":        {},
		"long uid":         {InstanceUID: long},
		"NUL in uid":       {InstanceUID: "a\x00b"},
		"bad UTF-8 label":  {InstanceUID: "a1", Labels: map[string]string{"k": "\xff"}},
		"NUL in label key": {InstanceUID: "a1", Labels: map[string]string{"k\x00": "v"}},
		"NUL in config":    {InstanceUID: "a1", EffectiveConfig: "a\x00"},
		"NUL in health":    {InstanceUID: "a1", Health: &apitypes.Health{LastError: "\x00"}},
		"year 10000":       {InstanceUID: "a1", LastSeen: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"before year 1":    {InstanceUID: "a1", FirstSeen: time.Time{}.Add(-time.Second)},
	} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, s.UpsertAgent(t.Context(), a), store.ErrInvalid)
		})
	}
	_, err := s.GetAgent(t.Context(), "a1")
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing was written")
	_, err = s.GetAgent(t.Context(), "")
	assert.ErrorIs(t, err, store.ErrInvalid)
	assert.ErrorIs(t, s.MarkServerAgentsOffline(t.Context(), ""), store.ErrInvalid)
}

func testAgentFilters(t *testing.T, s store.Store) {
	upsertAgents(t, s,
		minimalAgent("a1", true, map[string]string{"env": "prod", "region": "eu"}),
		minimalAgent("a2", false, map[string]string{"env": "prod", "region": "us"}),
		minimalAgent("a3", true, map[string]string{"env": "dev"}),
		minimalAgent("a4", true, nil),
	)
	online, offline := true, false
	tests := []struct {
		name   string
		filter store.AgentFilter
		want   []string
	}{
		{"none", store.AgentFilter{}, []string{"a1", "a2", "a3", "a4"}},
		{"one label", store.AgentFilter{Labels: map[string]string{"env": "prod"}}, []string{"a1", "a2"}},
		{"all labels must match", store.AgentFilter{Labels: map[string]string{"env": "prod", "region": "eu"}}, []string{"a1"}},
		{"value differs", store.AgentFilter{Labels: map[string]string{"env": "staging"}}, nil},
		{"label missing", store.AgentFilter{Labels: map[string]string{"team": "x"}}, nil},
		{"empty label value", store.AgentFilter{Labels: map[string]string{"env": ""}}, nil},
		{"online", store.AgentFilter{Online: &online}, []string{"a1", "a3", "a4"}},
		{"offline", store.AgentFilter{Online: &offline}, []string{"a2"}},
		{"labels and online", store.AgentFilter{Labels: map[string]string{"env": "prod"}, Online: &online}, []string{"a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agents, next, err := s.ListAgents(t.Context(), tt.filter, store.Page{})
			require.NoError(t, err)
			assert.Empty(t, next)
			assert.NotNil(t, agents, "an empty result is an empty slice")
			var uids []string
			for _, a := range agents {
				uids = append(uids, a.InstanceUID)
			}
			assert.Equal(t, tt.want, uids)
		})
	}
	_, _, err := s.ListAgents(t.Context(), store.AgentFilter{Labels: map[string]string{"k": "\x00"}}, store.Page{})
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testAgentPagination(t *testing.T, s store.Store) {
	// Byte order, not a locale's collation: upper case sorts first.
	uids := []string{"A-upper", "B-upper", "a-lower", "b-lower"}
	for i := range 25 {
		uids = append(uids, fmt.Sprintf("agent-%02d", i))
	}
	shuffled := slices.Clone(uids)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	var onlineUIDs []string
	for i, uid := range shuffled {
		upsertAgents(t, s, minimalAgent(uid, i%2 == 0, map[string]string{"env": "prod"}))
		if i%2 == 0 {
			onlineUIDs = append(onlineUIDs, uid)
		}
	}
	slices.Sort(uids)
	slices.Sort(onlineUIDs)

	got, pages := listAllAgents(t, s, store.AgentFilter{}, 7)
	assert.Equal(t, uids, got, "every agent once, in byte order")
	assert.Equal(t, 5, pages)

	online := true
	got, _ = listAllAgents(t, s, store.AgentFilter{Online: &online, Labels: map[string]string{"env": "prod"}}, 4)
	assert.Equal(t, onlineUIDs, got, "filtered pages have no gaps or duplicates")

	exact, pages := listAllAgents(t, s, store.AgentFilter{}, len(uids))
	assert.Equal(t, uids, exact)
	assert.Equal(t, 1, pages, "a page ending on the last record is the last page")

	_, _, err := s.ListAgents(t.Context(), store.AgentFilter{}, store.Page{Limit: -1})
	assert.ErrorIs(t, err, store.ErrInvalid)
	_, _, err = s.ListAgents(t.Context(), store.AgentFilter{}, store.Page{After: "not a cursor!"})
	assert.ErrorIs(t, err, store.ErrInvalid)
}

func testAgentPageLimits(t *testing.T, s store.Store) {
	const n = store.MaxPageLimit + 1
	for i := range n {
		upsertAgents(t, s, apitypes.Agent{InstanceUID: fmt.Sprintf("agent-%04d", i)})
	}
	page, next, err := s.ListAgents(t.Context(), store.AgentFilter{}, store.Page{})
	require.NoError(t, err)
	assert.Len(t, page, store.DefaultPageLimit, "limit 0 is the default")
	assert.NotEmpty(t, next)

	page, next, err = s.ListAgents(t.Context(), store.AgentFilter{}, store.Page{Limit: 50 * n})
	require.NoError(t, err)
	assert.Len(t, page, store.MaxPageLimit, "the limit is capped")
	require.NotEmpty(t, next)
	rest, next, err := s.ListAgents(t.Context(), store.AgentFilter{}, store.Page{After: next, Limit: 50 * n})
	require.NoError(t, err)
	assert.Empty(t, next)
	require.Len(t, rest, 1)
	assert.Equal(t, fmt.Sprintf("agent-%04d", n-1), rest[0].InstanceUID)
}

func testMarkServerAgentsOffline(t *testing.T, s store.Store) {
	servers := map[string]string{"a1": "replica-1", "a2": "replica-1", "a3": "replica-2"}
	for uid, server := range servers {
		a := fullAgent(uid)
		a.ServerID = server
		upsertAgents(t, s, a)
	}
	require.NoError(t, s.MarkServerAgentsOffline(t.Context(), "replica-1"))
	for uid, server := range servers {
		want := storedAgent(uid)
		want.ServerID = server
		want.Online = server != "replica-1"
		got, err := s.GetAgent(t.Context(), uid)
		require.NoError(t, err)
		assert.Equal(t, want, got, "%s: only Online changes", uid)
	}
	require.NoError(t, s.MarkServerAgentsOffline(t.Context(), "no-such-replica"))
}

func testAgentResultsAreCopies(t *testing.T, s store.Store) {
	in := fullAgent("a1")
	require.NoError(t, s.UpsertAgent(t.Context(), in))
	in.Labels["env"] = "changed after the write"
	in.Description.Identifying["x"] = "y"
	in.FailedConfigHashes[0] = "changed"
	in.Health.Status = "changed"

	got, err := s.GetAgent(t.Context(), "a1")
	require.NoError(t, err)
	got.Labels["env"] = "changed"
	got.Description.NonIdentifying["os.type"] = "changed"
	got.FailedConfigHashes[1] = "changed"
	got.Health.Healthy = false

	listed, _, err := s.ListAgents(t.Context(), store.AgentFilter{}, store.Page{})
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Equal(t, listedAgent("a1"), listed[0])
	listed[0].Labels["region"] = "changed"

	again, err := s.GetAgent(t.Context(), "a1")
	require.NoError(t, err)
	assert.Equal(t, storedAgent("a1"), again)
}

func testAgentDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	upsertAgents(t, s, fullAgent("a1"), fullAgent("a2"))
	_, err := s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "a1", Config: "receivers: {}\n"})
	require.NoError(t, err)

	require.NoError(t, s.DeleteAgent(ctx, "a1"))
	_, err = s.GetAgent(ctx, "a1")
	assert.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.GetAssignment(ctx, "a1")
	assert.ErrorIs(t, err, store.ErrNotFound, "its assignment goes with it")
	_, err = s.GetAgent(ctx, "a2")
	assert.NoError(t, err, "other agents stay")
	assert.ErrorIs(t, s.DeleteAgent(ctx, "a1"), store.ErrNotFound)
	assert.ErrorIs(t, s.DeleteAgent(ctx, ""), store.ErrInvalid)
}

func testAgentDeleteOfflineSince(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := base.Add(-30 * 24 * time.Hour)
	agent := func(uid string, online bool, lastSeen time.Time) apitypes.Agent {
		a := fullAgent(uid)
		a.Online, a.LastSeen = online, lastSeen
		return a
	}
	upsertAgents(t, s,
		agent("gone", false, cutoff.Add(-time.Hour)),
		agent("recent", false, cutoff.Add(time.Hour)),
		agent("online-but-old", true, cutoff.Add(-time.Hour)))
	_, err := s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "gone", Config: "receivers: {}\n"})
	require.NoError(t, err)

	removed, err := s.DeleteAgentsOfflineSince(ctx, cutoff)
	require.NoError(t, err)
	assert.Equal(t, []string{"gone"}, removed)
	_, err = s.GetAssignment(ctx, "gone")
	assert.ErrorIs(t, err, store.ErrNotFound)
	for _, uid := range []string{"recent", "online-but-old"} {
		_, err := s.GetAgent(ctx, uid)
		assert.NoError(t, err, uid)
	}
	removed, err = s.DeleteAgentsOfflineSince(ctx, cutoff)
	require.NoError(t, err)
	assert.Empty(t, removed)
}
