package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/store"
)

// CreateAgentCredential stores a new agent's credential.
func (s *Store) CreateAgentCredential(ctx context.Context, c store.AgentCredential) error {
	c, err := store.NormalizeCredential(c)
	if err != nil {
		return err
	}
	// Enrolments share commits (Batch): a fleet enrolls at once.
	return s.batch(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketCredentials).Get([]byte(c.InstanceUID)) != nil {
			return fmt.Errorf("agent %q already has a credential: %w", c.InstanceUID, store.ErrConflict)
		}
		return putCredential(tx, c)
	}, store.Change{})
}

// GetAgentCredential returns an agent's credential.
func (s *Store) GetAgentCredential(ctx context.Context, instanceUID string) (store.AgentCredential, error) {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return store.AgentCredential{}, err
	}
	var c store.AgentCredential
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		c, err = getCredential(tx, instanceUID)
		return err
	})
	return c, err
}

// AgentCredentialByDigest finds the credential a token digest belongs to.
func (s *Store) AgentCredentialByDigest(ctx context.Context, digest string, now time.Time) (store.AgentCredential, error) {
	if err := store.ValidateDigest("digest", digest); err != nil {
		return store.AgentCredential{}, err
	}
	var c store.AgentCredential
	err := s.view(ctx, func(tx *bolt.Tx) (err error) {
		uid := tx.Bucket(bucketCredentialsByDigest).Get([]byte(digest))
		if uid != nil {
			c, err = getCredential(tx, string(uid))
		}
		if uid == nil || err != nil || !c.Matches(digest, now) {
			return fmt.Errorf("agent credential: %w", store.ErrNotFound)
		}
		return nil
	})
	return c, err
}

// RotateAgentCredential replaces an agent's token digest, keeping the
// current one valid until previousValidUntil.
func (s *Store) RotateAgentCredential(ctx context.Context, instanceUID, digest string, previousValidUntil, now time.Time) (store.AgentCredential, error) {
	if err := errors.Join(store.ValidateKey("instance_uid", instanceUID), store.ValidateDigest("digest", digest)); err != nil {
		return store.AgentCredential{}, err
	}
	var c store.AgentCredential
	err := s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		var err error
		if c, err = getCredential(tx, instanceUID); err != nil {
			return nil, err
		}
		if err := deleteCredentialDigests(tx, c); err != nil {
			return nil, err
		}
		c.PreviousSHA256, c.PreviousValidUntil = c.TokenSHA256, previousValidUntil
		c.TokenSHA256, c.RotatedAt = digest, now
		if c, err = store.NormalizeCredential(c); err != nil {
			return nil, err
		}
		return nil, putCredential(tx, c)
	})
	return c, err
}

// DeleteAgentCredential revokes an agent's credential.
func (s *Store) DeleteAgentCredential(ctx context.Context, instanceUID string) error {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		if _, err := getCredential(tx, instanceUID); err != nil {
			return nil, err
		}
		return nil, deleteCredentials(tx, []string{instanceUID})
	})
}

func getCredential(tx *bolt.Tx, uid string) (store.AgentCredential, error) {
	var c store.AgentCredential
	v := tx.Bucket(bucketCredentials).Get([]byte(uid))
	if v == nil {
		return c, fmt.Errorf("agent %q credential: %w", uid, store.ErrNotFound)
	}
	return c, json.Unmarshal(v, &c)
}

// putCredential writes c and indexes its digests, refusing a digest that
// belongs to another agent.
func putCredential(tx *bolt.Tx, c store.AgentCredential) error {
	byDigest := tx.Bucket(bucketCredentialsByDigest)
	for _, d := range []string{c.TokenSHA256, c.PreviousSHA256} {
		if d == "" {
			continue
		}
		if owner := byDigest.Get([]byte(d)); owner != nil && string(owner) != c.InstanceUID {
			return fmt.Errorf("token digest in use: %w", store.ErrConflict)
		}
		if err := byDigest.Put([]byte(d), []byte(c.InstanceUID)); err != nil {
			return err
		}
	}
	v, err := marshal(c)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketCredentials).Put([]byte(c.InstanceUID), v)
}

func deleteCredentialDigests(tx *bolt.Tx, c store.AgentCredential) error {
	for _, d := range []string{c.TokenSHA256, c.PreviousSHA256} {
		if d == "" {
			continue
		}
		if err := tx.Bucket(bucketCredentialsByDigest).Delete([]byte(d)); err != nil {
			return err
		}
	}
	return nil
}

// deleteCredentials removes the credentials of uids; a UID without one is
// skipped.
func deleteCredentials(tx *bolt.Tx, uids []string) error {
	for _, uid := range uids {
		c, err := getCredential(tx, uid)
		if err != nil {
			continue
		}
		if err := deleteCredentialDigests(tx, c); err != nil {
			return err
		}
		if err := tx.Bucket(bucketCredentials).Delete([]byte(uid)); err != nil {
			return err
		}
	}
	return nil
}

// unusedCredentialsBefore lists the credentials enrolled before t whose
// agent never reached the inventory.
func unusedCredentialsBefore(tx *bolt.Tx, t time.Time) ([]string, error) {
	var out []string
	agents := tx.Bucket(bucketAgents)
	err := tx.Bucket(bucketCredentials).ForEach(func(k, v []byte) error {
		if agents.Get(k) != nil {
			return nil
		}
		var c store.AgentCredential
		if err := json.Unmarshal(v, &c); err != nil {
			return fmt.Errorf("agent %q credential: %w", k, err)
		}
		if c.EnrolledAt.Before(t) {
			out = append(out, c.InstanceUID)
		}
		return nil
	})
	return out, err
}
