package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// UpsertAgent creates or replaces an agent and notifies watchers.
func (s *Store) UpsertAgent(ctx context.Context, a apitypes.Agent) error {
	a, err := store.NormalizeAgent(a)
	if err != nil {
		return err
	}
	text := a.EffectiveConfig
	a.EffectiveConfig = ""
	v, err := marshal(a)
	if err != nil {
		return err
	}
	// Agents report all at once (a fleet applying a configuration): their
	// writes share transactions, and fsyncs, instead of queueing for one
	// each.
	return s.batch(ctx, func(tx *bolt.Tx) error {
		if err := putEffectiveConfig(tx, a.InstanceUID, a.EffectiveConfigHash, text); err != nil {
			return err
		}
		return tx.Bucket(bucketAgents).Put([]byte(a.InstanceUID), v)
	}, store.Change{Kind: store.ChangeAgent, ID: a.InstanceUID})
}

// putEffectiveConfig stores an agent's effective configuration unless the
// store has it already. An empty text with an unchanged hash keeps the
// stored text (store.Store's UpsertAgent).
func putEffectiveConfig(tx *bolt.Tx, uid, hash, text string) error {
	b := tx.Bucket(bucketEffectiveConfigs)
	old := b.Get([]byte(uid))
	if text == "" && hashedText(old, hash) != nil {
		return nil
	}
	v := hashedValue(hash, text)
	if bytes.Equal(old, v) {
		return nil
	}
	return b.Put([]byte(uid), v)
}

// hashedValue is how a configuration's text is stored apart from its
// record: hash ‖ NUL ‖ text, so a reader can tell it belongs to the record.
func hashedValue(hash, text string) []byte {
	v := make([]byte, 0, len(hash)+1+len(text))
	return append(append(append(v, hash...), sep), text...)
}

// hashedText returns the text of a hashedValue if it belongs to hash, nil
// otherwise.
func hashedText(v []byte, hash string) []byte {
	h, text, ok := bytes.Cut(v, []byte{sep})
	if !ok || string(h) != hash {
		return nil
	}
	return text
}

// GetAgent returns one agent or store.ErrNotFound.
func (s *Store) GetAgent(ctx context.Context, instanceUID string) (apitypes.Agent, error) {
	return s.getAgent(ctx, instanceUID, true)
}

// GetAgentBrief returns one agent without its effective configuration's
// text, or store.ErrNotFound.
func (s *Store) GetAgentBrief(ctx context.Context, instanceUID string) (apitypes.Agent, error) {
	return s.getAgent(ctx, instanceUID, false)
}

func (s *Store) getAgent(ctx context.Context, instanceUID string, withText bool) (apitypes.Agent, error) {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return apitypes.Agent{}, err
	}
	var a apitypes.Agent
	err := s.view(ctx, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketAgents).Get([]byte(instanceUID))
		if v == nil {
			return fmt.Errorf("agent %q: %w", instanceUID, store.ErrNotFound)
		}
		if err := json.Unmarshal(v, &a); err != nil {
			return err
		}
		switch {
		case !withText:
			a.EffectiveConfig = "" // a record from before schema 3 holds it
		case a.EffectiveConfig == "": // else a record from before schema 3
			text := hashedText(tx.Bucket(bucketEffectiveConfigs).Get([]byte(instanceUID)), a.EffectiveConfigHash)
			a.EffectiveConfig = string(text)
		}
		return nil
	})
	return a, err
}

// ListAgents returns one page of the agents matching f, by instance UID.
func (s *Store) ListAgents(ctx context.Context, f store.AgentFilter, p store.Page) ([]apitypes.Agent, string, error) {
	limit, cur, err := store.PageArgs(p, store.ValidateAgentFilter(f))
	if err != nil {
		return nil, "", err
	}
	agents := make([]apitypes.Agent, 0, min(limit, 64))
	more := false
	err = s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAgents).Cursor()
		after := []byte(cur.ID)
		k, v := c.Seek(after)
		if k != nil && p.After != "" && bytes.Equal(k, after) {
			k, v = c.Next()
		}
		for n := 0; k != nil; k, v = c.Next() {
			if n++; n%1024 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			var a apitypes.Agent
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("agent %q: %w", k, err)
			}
			if !store.MatchAgent(&a, f) {
				continue
			}
			a.EffectiveConfig = "" // lists leave it out; a record from before schema 3 holds it
			if len(agents) == limit {
				more = true
				return nil
			}
			agents = append(agents, a)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if more {
		next = store.Cursor{ID: agents[len(agents)-1].InstanceUID}.Encode()
	}
	return agents, next, nil
}

// MarkServerAgentsOffline marks the agents held by serverID offline,
// notifying watchers of each.
func (s *Store) MarkServerAgentsOffline(ctx context.Context, serverID string) error {
	if err := store.ValidateKey("server_id", serverID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		return markOffline(tx, func(a apitypes.Agent) bool { return a.ServerID == serverID })
	})
}

// markOffline marks offline every online agent for which held is true, and
// returns a change for each.
func markOffline(tx *bolt.Tx, held func(apitypes.Agent) bool) ([]store.Change, error) {
	b := tx.Bucket(bucketAgents)
	var changed []apitypes.Agent
	err := b.ForEach(func(k, v []byte) error {
		var a apitypes.Agent
		if err := json.Unmarshal(v, &a); err != nil {
			return fmt.Errorf("agent %q: %w", k, err)
		}
		if a.Online && held(a) {
			a.Online = false
			changed = append(changed, a)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Written after the scan: a bbolt cursor is invalidated by writes.
	changes := make([]store.Change, 0, len(changed))
	for _, a := range changed {
		v, err := marshal(a)
		if err != nil {
			return nil, err
		}
		if err := b.Put([]byte(a.InstanceUID), v); err != nil {
			return nil, err
		}
		changes = append(changes, store.Change{Kind: store.ChangeAgent, ID: a.InstanceUID})
	}
	return changes, nil
}

// DeleteAgent removes an agent and its assignment.
func (s *Store) DeleteAgent(ctx context.Context, instanceUID string) error {
	if err := store.ValidateKey("instance_uid", instanceUID); err != nil {
		return err
	}
	return s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		if tx.Bucket(bucketAgents).Get([]byte(instanceUID)) == nil {
			return nil, fmt.Errorf("agent %q: %w", instanceUID, store.ErrNotFound)
		}
		return deleteAgents(tx, []string{instanceUID})
	})
}

// DeleteAgentsOfflineSince removes the agents offline since before t.
func (s *Store) DeleteAgentsOfflineSince(ctx context.Context, t time.Time) ([]string, error) {
	var removed []string
	err := s.update(ctx, func(tx *bolt.Tx) ([]store.Change, error) {
		removed = removed[:0]
		err := tx.Bucket(bucketAgents).ForEach(func(k, v []byte) error {
			var a apitypes.Agent
			if err := json.Unmarshal(v, &a); err != nil {
				return fmt.Errorf("agent %q: %w", k, err)
			}
			if !a.Online && a.LastSeen.Before(t) {
				removed = append(removed, a.InstanceUID)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		// Deleted after the scan: a bbolt cursor is invalidated by writes.
		unused, err := unusedCredentialsBefore(tx, t)
		if err != nil {
			return nil, err
		}
		if err := deleteCredentials(tx, unused); err != nil {
			return nil, err
		}
		return deleteAgents(tx, removed)
	})
	return removed, err
}

func deleteAgents(tx *bolt.Tx, uids []string) ([]store.Change, error) {
	var changes []store.Change
	if err := deleteCredentials(tx, uids); err != nil {
		return nil, err
	}
	for _, uid := range uids {
		if err := tx.Bucket(bucketAgents).Delete([]byte(uid)); err != nil {
			return nil, err
		}
		if err := tx.Bucket(bucketEffectiveConfigs).Delete([]byte(uid)); err != nil {
			return nil, err
		}
		changes = append(changes, store.Change{Kind: store.ChangeAgent, ID: uid})
		switch deleted, err := deleteAssignment(tx, uid); {
		case err != nil:
			return nil, err
		case deleted:
			changes = append(changes, store.Change{Kind: store.ChangeAssignment, ID: uid})
		}
	}
	return changes, nil
}
