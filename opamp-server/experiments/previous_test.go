package experiments

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// A target's previous assignment is kept without its configuration when its
// pipeline and parameters render it again (the stored experiment of a fleet
// would otherwise carry a 10 KiB configuration per target, rewritten at
// every step), whole when they do not, and given back exactly either way.
func TestTargetsKeepTheirPreviousAssignmentSlim(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	labels := map[string]string{"env": "test"}
	f.agent("a1", labels)
	// Assigned as `phoenix config assign` does, through the service.
	r, err := f.c.set.Assignments.Render(ctx, "a1", "baseline", map[string]any{"system_metrics": false})
	require.NoError(t, err)
	catalogued, err := f.st.SetAssignment(ctx, r)
	require.NoError(t, err)
	verbatim := f.agent("a2", labels) // names a pipeline that does not render its text
	x := f.deployed(validSpec(apitypes.ModePaired))
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)

	prev := map[string]apitypes.Assignment{}
	for _, tg := range x.State.Targets {
		prev[tg.InstanceUID] = tg.Previous
	}
	assert.Empty(t, prev["a1"].Config, "rendered again at restore")
	assert.Equal(t, catalogued.ConfigHash, prev["a1"].ConfigHash)
	assert.Equal(t, verbatim.Config, prev["a2"].Config, "kept whole")

	_, err = f.c.Stop(ctx, x.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	require.Equal(t, apitypes.ExperimentCancelled, f.get(x.ID).Status)
	for _, want := range []apitypes.Assignment{catalogued, verbatim} {
		got, err := f.st.GetAssignment(ctx, want.InstanceUID)
		require.NoError(t, err)
		assert.Equal(t, want.ConfigHash, got.ConfigHash, want.InstanceUID)
		assert.Equal(t, want.Config, got.Config, want.InstanceUID)
	}
}
