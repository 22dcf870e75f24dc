package boltstore

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// migrateChunk bounds the assignments one migration transaction rewrites:
// a fleet's texts (10 KiB each) in one transaction would all be held in
// memory until it commits.
const migrateChunk = 500

// upgrade migrates a file written at schema version from to SchemaVersion,
// then records the version. Versions 2 and 3 only added buckets, which
// initSchema creates.
//
// Schema 4 kept assignment texts apart from their heads; schema 5 keeps
// each distinct text once, templated by agent (store.TemplateText) and
// reference counted. Old records are migrated here rather than read as
// they are (as effective configurations were at schema 3): an assignment
// may stay unchanged for months, and every agent list would go on decoding
// its text. Reads still accept every layout, so a migration interrupted by
// a crash leaves a readable file that the next Open finishes.
func upgrade(db *bolt.DB, from uint64) error {
	if err := migrateAssignmentTexts(db); err != nil {
		return fmt.Errorf("upgrade store schema %d to %d: %w", from, SchemaVersion, err)
	}
	return db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, encodeUint(SchemaVersion))
	})
}

// migrateAssignmentTexts moves the text of every assignment record that
// references no stored text (inline before schema 4, under its key at
// schema 4) to bucketTexts, migrateChunk records per transaction. A record
// whose text is lost stays as it is: its head still reads.
func migrateAssignmentTexts(db *bolt.DB) error {
	var last []byte // the last key scanned; nil before the first chunk
	for more := true; more; {
		err := db.Update(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketAssignments).Cursor()
			k, v := c.First()
			if last != nil {
				if k, v = c.Seek(last); bytes.Equal(k, last) {
					k, v = c.Next()
				}
			}
			configs := tx.Bucket(bucketAssignmentConfigs)
			var old []apitypes.Assignment
			for ; k != nil && len(old) < migrateChunk; k, v = c.Next() {
				var h assignmentHead
				if err := json.Unmarshal(v, &h); err != nil {
					return fmt.Errorf("assignment of agent %q: %w", k, err)
				}
				a := h.Assignment
				if a.Config == "" {
					a.Config = string(hashedText(configs.Get(k), a.ConfigHash))
				}
				if h.TextHash == "" && a.Config != "" {
					old = append(old, a)
				}
				last = bytes.Clone(k)
			}
			more = k != nil
			// Written after the scan: a bbolt cursor is invalidated by writes.
			texts := store.StoredTexts(old)
			for i, a := range old {
				if err := putAssignment(tx, a, texts[i]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
