package experiments

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// crashingStore fails the first write that holds one agent's assignment,
// after writing the ones before it: a server killed between two of the
// deploy's store transactions.
type crashingStore struct {
	store.Store
	uid  string
	once sync.Once
}

func (s *crashingStore) SetAssignments(ctx context.Context, asgs []apitypes.Assignment) ([]apitypes.Assignment, error) {
	for i, a := range asgs {
		failed := false
		if a.InstanceUID == s.uid {
			s.once.Do(func() { failed = true })
		}
		if failed {
			if _, err := s.Store.SetAssignments(ctx, asgs[:i]); err != nil {
				return nil, err
			}
			return nil, errors.New("server killed")
		}
	}
	return s.Store.SetAssignments(ctx, asgs)
}

// TestAnInterruptedDeployResumes replays the finding: a server killed
// mid-deploy never sent the remaining assignments, and the experiment
// timed out waiting for agents that had nothing to apply.
func TestAnInterruptedDeployResumes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	crashing := &crashingStore{Store: f.st, uid: "a2"}
	f.c = f.replica(crashing)
	before1 := f.agent("a1", map[string]string{"env": "test"})
	before2 := f.agent("a2", map[string]string{"env": "test"})

	x := f.deployed(validSpec(apitypes.ModePaired))
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	require.Len(t, x.State.Targets, 2)
	assert.NotEqual(t, before1.ConfigHash, f.assigned("a1").ConfigHash, "a1 was assigned before the crash")

	// Another replica, or this one restarted, steps the deploy (Start also
	// steps it in the background).
	require.Eventually(t, func() bool {
		f.c.ReconcileAll(ctx)
		return f.assigned("a2").ConfigHash != before2.ConfigHash
	}, 10*time.Second, 10*time.Millisecond)
	x = f.get(x.ID)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	for _, tg := range x.State.Targets {
		assert.Equal(t, tg.ConfigHash, f.assigned(tg.InstanceUID).ConfigHash, "%s has the experiment's configuration", tg.InstanceUID)
	}
	var resumed []string
	for _, e := range x.Events {
		if strings.Contains(e.Cause, "interrupted deploy") {
			resumed = append(resumed, e.Cause)
		}
	}
	assert.Equal(t, []string{"agent a2 (): the interrupted deploy assigned its configuration again"}, resumed, "the resumed assignment is recorded, once")

	for _, tg := range x.State.Targets {
		f.report(tg.InstanceUID, tg.ConfigHash, apitypes.ConfigStatusApplied, "")
	}
	f.c.ReconcileAll(ctx)
	assert.Equal(t, apitypes.ExperimentRunning, f.get(x.ID).Status)
}

// TestAResumedDeployLeavesOthersAssignmentsAlone: an assignment changed by
// someone else during the deploy is not overwritten.
func TestAResumedDeployLeavesOthersAssignmentsAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	crashing := &crashingStore{Store: f.st, uid: "a1"}
	f.c = f.replica(crashing)
	f.agent("a1", map[string]string{"env": "test"})
	x := f.deployed(validSpec(apitypes.ModePaired))
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	// Let the resume happen first (Start also steps in the background).
	require.Eventually(t, func() bool {
		f.c.ReconcileAll(ctx)
		return f.assigned("a1").ConfigHash == x.State.Targets[0].ConfigHash
	}, 10*time.Second, 10*time.Millisecond)

	mine, err := f.st.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "a1", Config: "exporters: {}\n", Reason: "operator"})
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	assert.Equal(t, mine.ConfigHash, f.assigned("a1").ConfigHash)
}
