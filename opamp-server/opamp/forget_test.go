package opamp

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// TestDeletedAgentsAreForgotten: what the server keeps of each agent in
// memory shrinks with the inventory instead of growing with every agent
// ever seen.
func TestDeletedAgentsAreForgotten(t *testing.T) {
	ts := newTestServer(t)
	s, st := ts.s, ts.s.set.Store
	for _, uid := range []string{"gone", "kept"} {
		require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: uid}))
		s.state(uid)
	}
	require.NoError(t, st.DeleteAgent(t.Context(), "gone"))
	s.agentWritten(t.Context(), "gone")
	s.agentWritten(t.Context(), "kept")
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.NotContains(t, s.agents, "gone")
	assert.Contains(t, s.agents, "kept", "an agent still in the inventory is remembered")
}
