package assignment

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// An agent removed from the inventory during a rollout (deleted, or swept
// after a long time offline) no longer holds its wave back, whether it was
// removed inside its wave or before the wave started; nothing is assigned
// to it afterwards.
func TestRolloutLeavesOutAgentsRemovedFromTheInventory(t *testing.T) {
	t.Parallel()
	f := newRolloutFixture(t)
	ro := f.start(50, 100)
	require.Equal(t, []string{"topk-rollup", "topk-rollup", "none", "none"}, pipelines(f))

	// a2 goes inside the first wave, a4 before the second starts.
	require.NoError(t, f.st.DeleteAgent(t.Context(), "a2"))
	require.NoError(t, f.st.DeleteAgent(t.Context(), "a4"))
	f.pass(ro.ID, "a1")
	ro = f.get(ro.ID)
	require.Equal(t, apitypes.WavePassed, ro.Waves[0].State, "a2's removal does not wait for the gate's timeout: %s", ro.Waves[0].Reason)
	assert.True(t, ro.Waves[0].Agents[1].Removed)
	assert.Equal(t, 1, ro.Waves[0].Removed)
	assert.Equal(t, "none", f.assigned("a2"), "a removed agent is not assigned")

	f.pass(ro.ID, "a3")
	ro = f.get(ro.ID)
	require.Equal(t, apitypes.RolloutCompleted, ro.State, "%+v", ro.Waves[1])
	assert.True(t, ro.Waves[1].Agents[1].Removed)
	assert.Equal(t, "none", f.assigned("a4"), "a removed agent is not assigned")
	assert.Equal(t, "topk-rollup", f.assigned("a3"))
}
