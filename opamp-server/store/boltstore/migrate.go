package boltstore

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// migrateChunk bounds the assignments one migration transaction rewrites:
// a fleet's texts (10 KiB each) in one transaction would all be held in
// memory until it commits.
const migrateChunk = 500

// upgrade migrates a file written at schema version from to SchemaVersion,
// then records the version. Versions 2 and 3 only added buckets, which
// initSchema creates.
//
// Schema 4 keeps assignment texts apart from their heads. Old records are
// migrated here rather than read as they are (as effective configurations
// were at schema 3): an agent reports its effective configuration again
// soon, but an assignment may stay unchanged for months, and every agent
// list would go on decoding its text. Reads still accept either layout, so
// a migration interrupted by a crash leaves a readable file that the next
// Open finishes.
func upgrade(db *bolt.DB, from uint64) error {
	if err := migrateAssignmentConfigs(db); err != nil {
		return fmt.Errorf("upgrade store schema %d to %d: %w", from, SchemaVersion, err)
	}
	return db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchemaVersion, encodeUint(SchemaVersion))
	})
}

// migrateAssignmentConfigs moves the text out of every assignment record
// that holds it, migrateChunk records per transaction.
func migrateAssignmentConfigs(db *bolt.DB) error {
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
			var old []apitypes.Assignment
			for ; k != nil && len(old) < migrateChunk; k, v = c.Next() {
				var a apitypes.Assignment
				if err := json.Unmarshal(v, &a); err != nil {
					return fmt.Errorf("assignment of agent %q: %w", k, err)
				}
				if a.Config != "" {
					old = append(old, a)
				}
				last = bytes.Clone(k)
			}
			more = k != nil
			// Written after the scan: a bbolt cursor is invalidated by writes.
			for _, a := range old {
				if err := putAssignment(tx, a); err != nil {
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
