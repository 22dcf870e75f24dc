package opamp

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"time"

	"github.com/open-telemetry/opamp-go/server/types"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// refreshLastSeen is how stale a live WebSocket agent's stored last-seen
// time may grow: a heartbeat that changes nothing else is not written
// until then. Heartbeats are most of what an idle fleet sends, and each
// write costs the store a transaction; whether the agent is online is the
// presence lease's business, not this timestamp's.
const refreshLastSeen = 2 * time.Minute

// heldRecord is the agent record a synced WebSocket agent's messages fold
// into between messages, so a heartbeat reads nothing. Only this replica's
// connection writes the record while the agent is here; any other write
// (a delete, another replica) announces a change, which drops it. The
// changes this replica's own writes announce are counted off instead.
type heldRecord struct {
	agent apitypes.Agent
	// storedSeen is the last-seen time the store holds.
	storedSeen time.Time
}

// loadRecord returns the record a message folds into and whether the agent
// is known: the held one when the agent is synced on this connection,
// otherwise the store's. The effective configuration's text is left out: a
// message that reports a new one sets it, and the store keeps the text of
// an unchanged hash.
func (c *connection) loadRecord(ctx context.Context, st *agentState, conn types.Connection, uid string) (apitypes.Agent, bool, error) {
	if r := st.record; r != nil && c.transport == apitypes.ConnectionWebSocket && st.conn == conn && st.synced {
		return cloneRecord(r.agent), true, nil
	}
	st.record = nil
	c.s.writer.flush(uid) // the store is behind while a record is queued
	a, err := c.s.set.Store.GetAgentBrief(ctx, uid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return apitypes.Agent{}, false, nil
	case err != nil:
		return apitypes.Agent{}, false, err
	}
	if c.transport == apitypes.ConnectionWebSocket {
		st.record = &heldRecord{agent: cloneRecord(a), storedSeen: a.LastSeen}
	}
	return a, true, nil
}

// saveRecord writes the agent unless, on a WebSocket whose record is held,
// only its presence changed (last seen, sequence number) and the stored
// last-seen time is recent. A held record is written behind the message
// (recordWriter) unless first (the agent is new to the inventory). It
// reports whether it wrote or queued the write.
func (c *connection) saveRecord(ctx context.Context, st *agentState, before, a apitypes.Agent, now time.Time, first bool) (bool, error) {
	held := st.record
	if held != nil && c.transport == apitypes.ConnectionWebSocket {
		if now.Sub(held.storedSeen) < refreshLastSeen && onlyPresenceChanged(before, a) {
			held.agent = cloneRecord(a)
			return false, nil
		}
		if !first {
			if c.s.writer.put(a) {
				st.ownWrites++
			}
			a.EffectiveConfig = "" // queued; the held record needs only its hash
			st.record = &heldRecord{agent: cloneRecord(a), storedSeen: a.LastSeen}
			return true, nil
		}
	}
	// A queued record of this agent would land after this one.
	c.s.writer.flush(a.InstanceUID)
	if err := c.s.set.Store.UpsertAgent(ctx, a); err != nil {
		st.record = nil
		return false, err
	}
	st.ownWrites++
	if c.transport == apitypes.ConnectionWebSocket {
		a.EffectiveConfig = "" // stored; the held record needs only its hash
		st.record = &heldRecord{agent: cloneRecord(a), storedSeen: a.LastSeen}
	} else {
		st.record = nil // plain-HTTP polls may reach any replica
	}
	return true, nil
}

// onlyPresenceChanged reports whether after differs from before in nothing
// but the last-seen time and the sequence number.
func onlyPresenceChanged(before, after apitypes.Agent) bool {
	before.LastSeen, before.SequenceNum = after.LastSeen, after.SequenceNum
	return reflect.DeepEqual(before, after)
}

// cloneRecord copies what a message may change in place, so the held
// record is not modified through a message's copy.
func cloneRecord(a apitypes.Agent) apitypes.Agent {
	a.FailedConfigHashes = slices.Clone(a.FailedConfigHashes)
	if a.Health != nil {
		h := *a.Health
		a.Health = &h
	}
	if a.ApplyRetry != nil {
		r := *a.ApplyRetry
		a.ApplyRetry = &r
	}
	return a
}
