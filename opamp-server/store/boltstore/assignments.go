package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// SetAssignment stores an agent's assignment with the next generation.
func (s *Store) SetAssignment(ctx context.Context, a apitypes.Assignment) (apitypes.Assignment, error) {
	out, err := s.SetAssignments(ctx, []apitypes.Assignment{a})
	if err != nil {
		return apitypes.Assignment{}, err
	}
	return out[0], nil
}

// SetAssignments stores assignments in one transaction: all or none.
func (s *Store) SetAssignments(ctx context.Context, asgs []apitypes.Assignment) ([]apitypes.Assignment, error) {
	out := make([]apitypes.Assignment, len(asgs))
	now := s.now()
	for i, a := range asgs {
		var err error
		if out[i], err = store.NormalizeAssignment(a, now); err != nil {
			return nil, store.BatchError(i, len(asgs), err)
		}
	}
	texts := store.StoredTexts(out) // outside the transaction: hashing is most of the work
	err := s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		gens := tx.Bucket(bucketGenerations)
		changes := make([]store.Change, 0, len(out))
		for i := range out {
			a := &out[i]
			key := []byte(a.InstanceUID)
			a.Generation = int64(decodeUint(gens.Get(key)) + 1)
			if err := gens.Put(key, encodeUint(uint64(a.Generation))); err != nil {
				return nil, err
			}
			if err := putAssignment(tx, *a, texts[i]); err != nil {
				return nil, err
			}
			changes = append(changes, store.Change{Kind: store.ChangeAssignment, ID: a.InstanceUID})
		}
		return changes, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// putAssignment writes an assignment as its head (the record without
// Config) referencing its stored text st, and moves the reference counts:
// the text is written only by its first reference, so a fleet's texts cost
// one write. A rollout re-setting the same text changes no count.
func putAssignment(tx *bolt.Tx, a apitypes.Assignment, st store.StoredText) error {
	key := []byte(a.InstanceUID)
	old, err := storedTextHash(tx, a.InstanceUID)
	if err != nil {
		return err
	}
	if old != st.Hash {
		if err := refText(tx, st); err != nil {
			return err
		}
		if old != "" {
			if err := unrefText(tx, old); err != nil {
				return err
			}
		}
	}
	// A text of schema 4's layout is replaced.
	if err := tx.Bucket(bucketAssignmentConfigs).Delete(key); err != nil {
		return err
	}
	a.Config = ""
	head, err := marshal(assignmentHead{Assignment: a, TextHash: st.Hash, Templated: st.Templated})
	if err != nil {
		return err
	}
	return tx.Bucket(bucketAssignments).Put(key, head)
}

// assignmentBrief is a stored assignment as a brief read decodes it: the
// parameters are skipped over, never built.
type assignmentBrief struct {
	InstanceUID string    `json:"instance_uid"`
	Pipeline    string    `json:"pipeline,omitempty"`
	ConfigHash  string    `json:"config_hash"`
	Reason      string    `json:"reason,omitempty"`
	AssignedAt  time.Time `json:"assigned_at"`
	Generation  int64     `json:"generation"`
}

// readAssignment returns an agent's assignment, read to depth d, and
// whether it has one. A record not yet migrated to schema 5 holds its text
// inline (before schema 4) or under its key in bucketAssignmentConfigs
// (schema 4): a head or a brief drops it, a full read keeps it.
func readAssignment(tx *bolt.Tx, uid string, d store.AssignmentDepth) (apitypes.Assignment, bool, error) {
	key := []byte(uid)
	v := tx.Bucket(bucketAssignments).Get(key)
	if v == nil {
		return apitypes.Assignment{}, false, nil
	}
	if d == store.DepthBrief {
		var b assignmentBrief
		if err := json.Unmarshal(v, &b); err != nil {
			return apitypes.Assignment{}, false, fmt.Errorf("assignment of agent %q: %w", uid, err)
		}
		return apitypes.Assignment{InstanceUID: b.InstanceUID, Pipeline: b.Pipeline, ConfigHash: b.ConfigHash,
			Reason: b.Reason, AssignedAt: b.AssignedAt, Generation: b.Generation}, true, nil
	}
	var h assignmentHead
	if err := json.Unmarshal(v, &h); err != nil {
		return apitypes.Assignment{}, false, fmt.Errorf("assignment of agent %q: %w", uid, err)
	}
	a := h.Assignment
	switch {
	case d != store.DepthFull:
		a.Config = ""
	case h.TextHash != "":
		text, err := readText(tx, h)
		if err != nil {
			return apitypes.Assignment{}, false, err
		}
		a.Config = text
	case a.Config == "": // schema 4: the text apart, under the agent's key
		text := hashedText(tx.Bucket(bucketAssignmentConfigs).Get(key), a.ConfigHash)
		if text == nil {
			return apitypes.Assignment{}, false, fmt.Errorf("assignment of agent %q: the text of configuration %s is missing", uid, a.ConfigHash)
		}
		a.Config = string(text)
	}
	return a, true, nil
}

// GetAssignment returns an agent's assignment or store.ErrNotFound.
func (s *Store) GetAssignment(ctx context.Context, instanceUID string) (apitypes.Assignment, error) {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return apitypes.Assignment{}, err
	}
	var a apitypes.Assignment
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var found bool
		var err error
		if a, found, err = readAssignment(tx, instanceUID, store.DepthFull); err == nil && !found {
			return fmt.Errorf("assignment of agent %q: %w", instanceUID, store.ErrNotFound)
		}
		return err
	})
	return a, err
}

// GetAssignments returns the named agents' assignments, in one read.
func (s *Store) GetAssignments(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error) {
	return s.getAssignments(ctx, instanceUIDs, store.DepthFull)
}

// GetAssignmentHeads returns the named agents' assignments without their
// text, in one read that does not touch the texts.
func (s *Store) GetAssignmentHeads(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error) {
	return s.getAssignments(ctx, instanceUIDs, store.DepthHead)
}

// GetAssignmentBriefs returns the named agents' assignments without their
// text or parameters.
func (s *Store) GetAssignmentBriefs(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error) {
	return s.getAssignments(ctx, instanceUIDs, store.DepthBrief)
}

func (s *Store) getAssignments(ctx context.Context, uids []string, d store.AssignmentDepth) (map[string]apitypes.Assignment, error) {
	if err := store.ValidateKeys("instance_uid", uids); err != nil {
		return nil, err
	}
	out := make(map[string]apitypes.Assignment, len(uids))
	err := s.view(ctx, func(tx *bolt.Tx) error {
		for _, uid := range uids {
			a, found, err := readAssignment(tx, uid, d)
			if err != nil {
				return err
			}
			if found {
				out[uid] = a
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteAssignment removes an agent's assignment; watchers hear of it when
// there was one.
func (s *Store) DeleteAssignment(ctx context.Context, instanceUID string) error {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		deleted, err := deleteAssignment(tx, instanceUID)
		if err != nil || !deleted {
			return nil, err
		}
		return []store.Change{{Kind: store.ChangeAssignment, ID: instanceUID}}, nil
	})
}

// deleteAssignment removes an assignment's head and its reference to its
// text, and reports whether there was one. The generation stays:
// generations never repeat.
func deleteAssignment(tx *bolt.Tx, uid string) (bool, error) {
	key := []byte(uid)
	heads := tx.Bucket(bucketAssignments)
	if heads.Get(key) == nil {
		return false, nil
	}
	hash, err := storedTextHash(tx, uid)
	if err != nil {
		return false, err
	}
	if hash != "" {
		if err := unrefText(tx, hash); err != nil {
			return false, err
		}
	}
	if err := tx.Bucket(bucketAssignmentConfigs).Delete(key); err != nil {
		return false, err
	}
	return true, heads.Delete(key)
}
