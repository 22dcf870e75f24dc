package boltstore_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestOpenCreatesPrivateFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dirs", "phoenix.db")
	s, err := boltstore.Open(path)
	require.NoError(t, err)
	defer s.Close()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	di, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), di.Mode().Perm())
}

func TestSecondOpenIsLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoenix.db")
	s, err := boltstore.Open(path)
	require.NoError(t, err)
	defer s.Close()

	_, err = boltstore.Open(path, boltstore.WithLockTimeout(50*time.Millisecond))
	require.ErrorIs(t, err, boltstore.ErrLocked)
	assert.Contains(t, err.Error(), "store is locked by another phoenix server")
	assert.Contains(t, err.Error(), path)

	require.NoError(t, s.Close())
	again, err := boltstore.Open(path, boltstore.WithLockTimeout(50*time.Millisecond))
	require.NoError(t, err, "the lock goes with Close")
	require.NoError(t, again.Close())
}

// fill writes one record of each kind.
func fill(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	require.NoError(t, s.UpsertAgent(ctx, apitypes.Agent{InstanceUID: "a1", Labels: map[string]string{"env": "prod"}}))
	_, err := s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "a1", Config: "x: 1\n"})
	require.NoError(t, err)
	minute := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	require.NoError(t, s.PutSamples(ctx, []apitypes.Sample{{InstanceUID: "a1", Name: "cpu", Minute: minute, Value: 0.25}}))
	_, err = s.CreateExperiment(ctx, store.Experiment{ID: "e1", Status: apitypes.ExperimentPending, Spec: json.RawMessage(`{}`)})
	require.NoError(t, err)
	_, err = s.AppendExperimentEvent(ctx, apitypes.ExperimentEvent{ExperimentID: "e1", Cause: "created"})
	require.NoError(t, err)
}

// checkFilled reads back what fill wrote, and checks that counters resume.
func checkFilled(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	a, err := s.GetAgent(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"env": "prod"}, a.Labels)
	samples, err := s.QuerySamples(ctx, store.SampleQuery{InstanceUID: "a1"})
	require.NoError(t, err)
	require.Len(t, samples, 1)
	assert.Equal(t, 0.25, samples[0].Value)
	_, err = s.GetExperiment(ctx, "e1")
	require.NoError(t, err)

	as, err := s.SetAssignment(ctx, apitypes.Assignment{InstanceUID: "a1", Config: "x: 2\n"})
	require.NoError(t, err)
	assert.Equal(t, int64(2), as.Generation, "generations continue")
	ev, err := s.AppendExperimentEvent(ctx, apitypes.ExperimentEvent{ExperimentID: "e1", Cause: "again"})
	require.NoError(t, err)
	assert.Equal(t, int64(2), ev.Seq, "event sequences continue")
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoenix.db")
	s, err := boltstore.Open(path)
	require.NoError(t, err)
	fill(t, s)
	require.NoError(t, s.Close())

	s, err = boltstore.Open(path)
	require.NoError(t, err)
	defer s.Close()
	checkFilled(t, s)
}

func TestBackupOpensAsAStore(t *testing.T) {
	dir := t.TempDir()
	s, err := boltstore.Open(filepath.Join(dir, "phoenix.db"))
	require.NoError(t, err)
	defer s.Close()
	fill(t, s)

	var buf bytes.Buffer
	require.NoError(t, s.Backup(t.Context(), &buf))
	backup := filepath.Join(dir, "backup.db")
	require.NoError(t, os.WriteFile(backup, buf.Bytes(), 0o600))
	restored, err := boltstore.Open(backup)
	require.NoError(t, err)
	defer restored.Close()
	checkFilled(t, restored)

	require.NoError(t, s.Close())
	assert.ErrorIs(t, s.Backup(t.Context(), &buf), store.ErrClosed)
}

func TestNewerSchemaIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoenix.db")
	s, err := boltstore.Open(path)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	setSchemaVersion(t, path, boltstore.SchemaVersion+1)
	_, err = boltstore.Open(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("schema version %d is newer than this phoenix server supports (%d)",
		boltstore.SchemaVersion+1, boltstore.SchemaVersion))

	setSchemaVersion(t, path, boltstore.SchemaVersion)
	s, err = boltstore.Open(path)
	require.NoError(t, err, "the current version opens")
	require.NoError(t, s.Close())
}

func setSchemaVersion(t *testing.T, path string, v uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		var b [8]byte
		for i := range b {
			b[i] = byte(v >> (56 - 8*i))
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), b[:])
	}))
}

func TestNotAStoreFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "phoenix.db")
	require.NoError(t, os.WriteFile(path, bytes.Repeat([]byte("not a bolt file "), 1024), 0o600))
	_, err := boltstore.Open(path)
	require.Error(t, err)
	assert.Contains(t, err.Error(), path)
}
