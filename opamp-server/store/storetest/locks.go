package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/store"
)

var lockTests = []testCase{
	{"OneOwnerAtATime", testLockOneOwner},
	{"WaitingEndsWithItsContext", testLockWaitEndsWithContext},
}

func testLockOneOwner(t *testing.T, s store.Store) {
	ctx := t.Context()
	unlock, err := s.LockExperiment(ctx, "x1")
	require.NoError(t, err)
	other, err := s.LockExperiment(ctx, "x2")
	require.NoError(t, err, "another experiment is not blocked")
	other()

	acquired := make(chan func())
	go func() {
		u, err := s.LockExperiment(ctx, "x1")
		if err == nil {
			acquired <- u
		}
	}()
	select {
	case <-acquired:
		require.FailNow(t, "a second owner while the first holds the lock")
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	unlock() // unlocking twice is harmless
	select {
	case u := <-acquired:
		u()
	case <-time.After(10 * time.Second):
		require.FailNow(t, "the waiter never got the lock")
	}
}

func testLockWaitEndsWithContext(t *testing.T, s store.Store) {
	unlock, err := s.LockExperiment(t.Context(), "x1")
	require.NoError(t, err)
	defer unlock()
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = s.LockExperiment(ctx, "x1")
	assert.Error(t, err)
	_, err = s.LockExperiment(t.Context(), "")
	assert.ErrorIs(t, err, store.ErrInvalid)
}
