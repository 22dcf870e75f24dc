package boltstore_test

import (
	"encoding/binary"
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

// A schema 3 file is migrated on open, in chunks: every record then
// references a stored text, the fleet's one text shared, and reads return
// what was stored.
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

	checkMigrated(t, path, 3, 1202)
}

// putSchema4 writes assignments in schema 4's layout: the head without
// Config, the text under the agent's key in assignment_configs.
func putSchema4(tx *bolt.Tx, asgs ...apitypes.Assignment) error {
	for _, a := range asgs {
		text := a.Config
		a.Config = ""
		v, err := json.Marshal(a)
		if err != nil {
			return err
		}
		if err := tx.Bucket([]byte("assignments")).Put([]byte(a.InstanceUID), v); err != nil {
			return err
		}
		if err := tx.Bucket([]byte("assignment_configs")).Put([]byte(a.InstanceUID), []byte(a.ConfigHash+"\x00"+text)); err != nil {
			return err
		}
	}
	return nil
}

// checkMigrated checks, in the closed file at path, that every assignment
// references a stored text, none is left in schema 4's layout, and the
// texts and their counts are as expected.
func checkMigrated(t *testing.T, path string, texts int, refs uint64) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		assert.Equal(t, []byte{0, 0, 0, 0, 0, 0, 0, boltstore.SchemaVersion}, tx.Bucket([]byte("meta")).Get([]byte("schema_version")))
		assert.Zero(t, tx.Bucket([]byte("assignment_configs")).Stats().KeyN, "no text is left under an agent's key")
		stored := tx.Bucket([]byte("assignment_texts"))
		assert.Equal(t, texts, stored.Stats().KeyN)
		var sum uint64
		require.NoError(t, tx.Bucket([]byte("assignment_text_refs")).ForEach(func(k, v []byte) error {
			assert.NotNil(t, stored.Get(k), "counted text %s is stored", k)
			sum += binary.BigEndian.Uint64(v)
			return nil
		}))
		assert.Equal(t, refs, sum, "one reference per assignment")
		return tx.Bucket([]byte("assignments")).ForEach(func(k, v []byte) error {
			var h struct {
				Config   string `json:"config"`
				TextHash string `json:"text_hash"`
			}
			require.NoError(t, json.Unmarshal(v, &h))
			assert.Empty(t, h.Config, "%s keeps its text apart", k)
			assert.NotNil(t, stored.Get([]byte(h.TextHash)), "%s has its text", k)
			return nil
		})
	}))
}

// A schema 4 file (texts under each agent's key), with records of schema 3
// left in it, is migrated on open: the fleet's texts, identical but for
// each agent's UID, become one stored text; texts without the UID, or
// holding the placeholder, are stored as they are.
func TestSchema4AssignmentsAreMigrated(t *testing.T) {
	path, current := fileWithAssignment(t)
	var apart []apitypes.Assignment
	for i := range 700 { // more than one migration chunk
		apart = append(apart, oldAssignment(fmt.Sprintf("apart-%04d", i)))
	}
	inline := oldAssignment("inline")
	odd := oldAssignment("odd")
	odd.Config = "odd: " + store.TextPlaceholder + " odd\n"
	odd.ConfigHash = store.HashConfig([]byte(odd.Config))
	writeRaw(t, path, func(tx *bolt.Tx) error {
		if err := putSchema4(tx, apart...); err != nil {
			return err
		}
		if err := putSchema4(tx, odd); err != nil {
			return err
		}
		return putOld(tx, inline)
	})
	setSchemaVersion(t, path, 4)

	s, err := boltstore.Open(path)
	require.NoError(t, err)
	for _, a := range []apitypes.Assignment{current, apart[0], apart[699], inline, odd} {
		checkReads(t, s, a)
	}
	texts, refs, err := s.CountTexts(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 3, texts, "the fleet's text, x: 1, the odd one")
	assert.Equal(t, int64(703), refs)
	require.NoError(t, s.DeleteAssignment(t.Context(), odd.InstanceUID))
	require.NoError(t, s.Close())
	checkMigrated(t, path, 2, 702)
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
		if err := putSchema4(tx, oldAssignment("apart")); err != nil {
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
	checkReads(t, s, oldAssignment("apart"))
	checkReads(t, s, current)
	// Replacing or deleting one counts no reference it did not have.
	_, err = s.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "old", Config: "x: 1\n"})
	require.NoError(t, err)
	require.NoError(t, s.DeleteAssignment(t.Context(), "apart"))
	texts, refs, err := s.CountTexts(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, texts)
	assert.Equal(t, int64(2), refs, "current and old share x: 1")
	_, err = s.GetAssignment(t.Context(), "lost")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `assignment of agent "lost": the text of configuration`)
	heads, err := s.GetAssignmentHeads(t.Context(), []string{"lost"})
	require.NoError(t, err, "a head needs no text")
	assert.Equal(t, "old", heads["lost"].Reason)
}
