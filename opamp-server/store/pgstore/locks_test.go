package pgstore_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/test/pgtest"
)

// Two replicas on one database: the lock is held across processes' stores,
// and a replica that goes away (its sessions end) releases it.
func TestExperimentLockSpansReplicas(t *testing.T) {
	dsn := pgtest.StartShared(t)
	a, b := open(t, dsn), open(t, dsn)
	_, err := a.LockExperiment(t.Context(), "x1")
	require.NoError(t, err)

	acquired := make(chan func(), 1)
	go func() {
		if u, err := b.LockExperiment(t.Context(), "x1"); err == nil {
			acquired <- u
		}
	}()
	select {
	case <-acquired:
		require.FailNow(t, "replica b took the lock replica a holds")
	case <-time.After(500 * time.Millisecond):
	}
	// Replica a dies: PostgreSQL ends its sessions.
	admin, err := pgx.Connect(t.Context(), dsn)
	require.NoError(t, err)
	defer admin.Close(t.Context())
	_, err = admin.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted`)
	require.NoError(t, err)
	select {
	case u := <-acquired:
		u()
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the lock was not released with its replica")
	}
}
