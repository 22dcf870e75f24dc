package boltstore_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
)

// oldAssignment is an assignment as schema 3 stored it: text inline.
func oldAssignment(uid string) apitypes.Assignment {
	config := fmt.Sprintf("receivers:\n  otlp/%s: {}\n", uid)
	return apitypes.Assignment{InstanceUID: uid, Pipeline: "p", Parameters: map[string]any{"k": "v"},
		Config: config, ConfigHash: store.HashConfig([]byte(config)), Reason: "old",
		AssignedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Generation: 7}
}

// writeRaw opens the file as bbolt and runs fn in a write transaction.
func writeRaw(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(fn))
}

// putOld writes assignments in schema 3's layout, with no separate text.
func putOld(tx *bolt.Tx, asgs ...apitypes.Assignment) error {
	for _, a := range asgs {
		v, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := tx.Bucket([]byte("assignments")).Put([]byte(a.InstanceUID), v); err != nil {
			return err
		}
		if err := tx.Bucket([]byte("assignment_configs")).Delete([]byte(a.InstanceUID)); err != nil {
			return err
		}
	}
	return nil
}

// checkReads checks that every read of a returns it, or its head.
func checkReads(t *testing.T, s store.Store, a apitypes.Assignment) {
	t.Helper()
	got, err := s.GetAssignment(t.Context(), a.InstanceUID)
	require.NoError(t, err)
	assert.Equal(t, a, got)
	many, err := s.GetAssignments(t.Context(), []string{a.InstanceUID})
	require.NoError(t, err)
	assert.Equal(t, a, many[a.InstanceUID])
	heads, err := s.GetAssignmentHeads(t.Context(), []string{a.InstanceUID})
	require.NoError(t, err)
	a.Config = ""
	assert.Equal(t, a, heads[a.InstanceUID])
}

// fileWithAssignment is a closed store file holding one assignment in the
// current layout.
func fileWithAssignment(t *testing.T) (string, apitypes.Assignment) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "phoenix.db")
	s, err := boltstore.Open(path)
	require.NoError(t, err)
	current, err := s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "current", Config: "x: 1\n"})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	return path, current
}

// A schema 3 file is migrated on open, in chunks: every record then keeps
// its text apart, and reads return what was stored.
func TestOldLayoutAssignmentsAreMigrated(t *testing.T) {
	path, current := fileWithAssignment(t)

	var old []apitypes.Assignment
	for i := range 1201 { // more than one migration chunk
		old = append(old, oldAssignment(fmt.Sprintf("old-%04d", i)))
	}
	writeRaw(t, path, func(tx *bolt.Tx) error { return putOld(tx, old...) })
	setSchemaVersion(t, path, 3)

	s, err := boltstore.Open(path)
	require.NoError(t, err)
	checkReads(t, s, current)
	for _, a := range []apitypes.Assignment{old[0], old[600], old[1200]} {
		checkReads(t, s, a)
	}
	next, err := s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: old[0].InstanceUID, Config: "y: 2\n"})
	require.NoError(t, err)
	checkReads(t, s, next)
	require.NoError(t, s.Close())

	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, boltstore.SchemaVersion}, tx.Bucket([]byte("meta")).Get([]byte("schema_version")))
		texts := tx.Bucket([]byte("assignment_configs"))
		return tx.Bucket([]byte("assignments")).ForEach(func(k, v []byte) error {
			var a apitypes.Assignment
			require.NoError(t, json.Unmarshal(v, &a))
			assert.Empty(t, a.Config, "%s keeps its text apart", k)
			assert.NotNil(t, texts.Get(k), "%s has its text", k)
			return nil
		})
	}))
}

// A record still in the old layout (a migration cut short) reads as it
// is; a new one's text is apart; one whose text is lost is an error.
func TestOldLayoutRecordReadsAsItIs(t *testing.T) {
	path, current := fileWithAssignment(t)

	old := oldAssignment("old")
	writeRaw(t, path, func(tx *bolt.Tx) error {
		if err := putOld(tx, old); err != nil {
			return err
		}
		lost := oldAssignment("lost")
		lost.Config = ""
		return putOld(tx, lost)
	})

	s, err := boltstore.Open(path)
	require.NoError(t, err)
	defer s.Close()
	checkReads(t, s, old)
	checkReads(t, s, current)
	_, err = s.GetAssignment(t.Context(), "lost")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `assignment of agent "lost": the text of configuration`)
	heads, err := s.GetAssignmentHeads(t.Context(), []string{"lost"})
	require.NoError(t, err, "a head needs no text")
	assert.Equal(t, "old", heads["lost"].Reason)
}
