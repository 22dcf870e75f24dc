package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// headReads counts assignment reads, and can hand out stale heads.
type headReads struct {
	store.Store
	mu          sync.Mutex
	full, heads int
	briefs      int
	stale       map[string]apitypes.Assignment
}

func (h *headReads) GetAssignment(ctx context.Context, uid string) (apitypes.Assignment, error) {
	h.mu.Lock()
	h.full++
	h.mu.Unlock()
	return h.Store.GetAssignment(ctx, uid)
}

func (h *headReads) GetAssignments(ctx context.Context, uids []string) (map[string]apitypes.Assignment, error) {
	h.mu.Lock()
	h.full += len(uids)
	h.mu.Unlock()
	return h.Store.GetAssignments(ctx, uids)
}

func (h *headReads) GetAssignmentHeads(ctx context.Context, uids []string) (map[string]apitypes.Assignment, error) {
	h.mu.Lock()
	h.heads++
	h.mu.Unlock()
	out, err := h.Store.GetAssignmentHeads(ctx, uids)
	for uid, a := range h.stale {
		out[uid] = a
	}
	return out, err
}

func (h *headReads) GetAssignmentBriefs(ctx context.Context, uids []string) (map[string]apitypes.Assignment, error) {
	h.mu.Lock()
	h.briefs++
	h.mu.Unlock()
	return h.Store.GetAssignmentBriefs(ctx, uids)
}

func (h *headReads) counts() (full, heads int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.full, h.heads
}

func (h *headReads) briefCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.briefs
}

// headsEnv is a test API whose store counts assignment reads.
func headsEnv(t *testing.T) (*testEnv, *headReads) {
	reads := &headReads{}
	env := newTestEnv(t, func(s *Settings) {
		reads.Store = s.Store
		s.Store = reads
	})
	return env, reads
}

// applied stores uid running config, assigned and APPLIED. The UID in the
// configuration keeps its comparison from being remembered by other tests.
func applied(t *testing.T, env *testEnv, uid string) apitypes.Assignment {
	t.Helper()
	config := strings.Replace(validConfig, "nop: {}", "nop/"+uid+": {}", 1)
	config = strings.Replace(config, "[nop]", "[nop/"+uid+"]", 1)
	asg, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: uid, Config: config})
	require.NoError(t, err)
	putAgent(t, env.store, apitypes.Agent{InstanceUID: uid, EffectiveConfig: config,
		EffectiveConfigHash: store.HashConfig([]byte(config)),
		RemoteConfig:        apitypes.RemoteConfigStatus{Hash: asg.ConfigHash, Status: apitypes.ConfigStatusApplied}})
	return asg
}

func TestListAgentsReadsAssignmentTextOnlyToCompare(t *testing.T) {
	env, reads := headsEnv(t)
	uid := "0191f1c2-0000-7000-8000-00000000a001"
	asg := applied(t, env, uid)

	for range 2 {
		views, _ := data[[]apitypes.AgentView](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents", nil))
		require.Len(t, views, 1)
		assert.Equal(t, apitypes.DriftInSync, views[0].Drift.State)
		require.NotNil(t, views[0].Assignment)
		assert.Equal(t, asg.ConfigHash, views[0].Assignment.ConfigHash)
		assert.Equal(t, int64(1), views[0].Assignment.Generation)
		assert.Empty(t, views[0].Assignment.Config)
	}
	full, heads := reads.counts()
	assert.Equal(t, 2, heads, "lists read heads")
	assert.Equal(t, 1, full, "the text is read once, for the first comparison")
}

// A head that went stale before its text was read is replaced by what the
// agent is assigned now, or by nothing when it was unassigned.
func TestListAgentsShowsAssignmentChangedWhileListing(t *testing.T) {
	env, reads := headsEnv(t)
	moved, gone := "0191f1c2-0000-7000-8000-00000000a002", "0191f1c2-0000-7000-8000-00000000a003"
	old := applied(t, env, moved)
	reads.stale = map[string]apitypes.Assignment{moved: old, gone: applied(t, env, gone)}
	for _, a := range reads.stale {
		a.Config = ""
		reads.stale[a.InstanceUID] = a
	}
	now, err := env.store.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: moved, Config: validConfig})
	require.NoError(t, err)
	require.NoError(t, env.store.DeleteAssignment(t.Context(), gone))

	views, _ := data[[]apitypes.AgentView](t, env.do(t, http.MethodGet, apitypes.Prefix+"/agents", nil))
	require.Len(t, views, 2)
	byUID := map[string]apitypes.AgentView{views[0].InstanceUID: views[0], views[1].InstanceUID: views[1]}
	require.NotNil(t, byUID[moved].Assignment)
	assert.Equal(t, now.ConfigHash, byUID[moved].Assignment.ConfigHash)
	assert.Equal(t, apitypes.DriftPending, byUID[moved].Drift.State, "it runs the old one")
	assert.Nil(t, byUID[gone].Assignment)
	assert.Equal(t, apitypes.DriftUnassigned, byUID[gone].Drift.State)
}
