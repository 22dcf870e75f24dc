package boltstore

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// assignmentHead is an assignment as stored (schema 5): the record without
// Config, and which stored text is its configuration. A fleet's texts,
// identical but for each agent's UID, are stored once (store.TemplateText).
type assignmentHead struct {
	apitypes.Assignment
	TextHash  string `json:"text_hash,omitempty"`
	Templated bool   `json:"templated,omitempty"`
}

// headText is the part of a stored head that reference counting needs.
type headText struct {
	TextHash string `json:"text_hash"`
}

// storedTextHash returns the hash of the text the stored head of uid
// references, or "" when there is no head or it references none (written
// before schema 5).
func storedTextHash(tx *bolt.Tx, uid string) (string, error) {
	v := tx.Bucket(bucketAssignments).Get([]byte(uid))
	if v == nil {
		return "", nil
	}
	var h headText
	if err := json.Unmarshal(v, &h); err != nil {
		return "", fmt.Errorf("assignment of agent %q: %w", uid, err)
	}
	return h.TextHash, nil
}

// refText adds a reference to a stored text, storing the text with the
// first one.
func refText(tx *bolt.Tx, st store.StoredText) error {
	refs := tx.Bucket(bucketTextRefs)
	key := []byte(st.Hash)
	n := decodeUint(refs.Get(key))
	if n == 0 {
		if err := tx.Bucket(bucketTexts).Put(key, []byte(st.Text)); err != nil {
			return fmt.Errorf("store text %s: %w", st.Hash, err)
		}
	}
	if err := refs.Put(key, encodeUint(n+1)); err != nil {
		return fmt.Errorf("reference text %s: %w", st.Hash, err)
	}
	return nil
}

// unrefText drops a reference to a stored text, and the text with the last
// one. A missing count is an error: the counts would no longer be exact.
func unrefText(tx *bolt.Tx, hash string) error {
	refs := tx.Bucket(bucketTextRefs)
	key := []byte(hash)
	switch n := decodeUint(refs.Get(key)); n {
	case 0:
		return fmt.Errorf("text %s: its reference count is missing", hash)
	case 1:
		if err := refs.Delete(key); err != nil {
			return fmt.Errorf("drop text %s: %w", hash, err)
		}
		if err := tx.Bucket(bucketTexts).Delete(key); err != nil {
			return fmt.Errorf("drop text %s: %w", hash, err)
		}
		return nil
	default:
		if err := refs.Put(key, encodeUint(n-1)); err != nil {
			return fmt.Errorf("unreference text %s: %w", hash, err)
		}
		return nil
	}
}

// readText returns the configuration a head references, expanded for its
// agent.
func readText(tx *bolt.Tx, h assignmentHead) (string, error) {
	text := tx.Bucket(bucketTexts).Get([]byte(h.TextHash))
	if text == nil {
		return "", fmt.Errorf("assignment of agent %q: stored text %s of configuration %s is missing",
			h.InstanceUID, h.TextHash, h.ConfigHash)
	}
	return store.ExpandText(string(text), h.InstanceUID, h.Templated), nil
}

var _ store.TextCounter = (*Store)(nil)

// CountTexts returns how many texts the store holds and the sum of their
// reference counts (store.TextCounter, for tests).
func (s *Store) CountTexts(ctx context.Context) (texts int, refs int64, err error) {
	err = s.view(ctx, func(tx *bolt.Tx) error {
		texts = tx.Bucket(bucketTexts).Stats().KeyN
		return tx.Bucket(bucketTextRefs).ForEach(func(k, v []byte) error {
			if tx.Bucket(bucketTexts).Get(k) == nil {
				return fmt.Errorf("text %s is counted but not stored", k)
			}
			refs += int64(decodeUint(v))
			return nil
		})
	})
	return texts, refs, err
}
