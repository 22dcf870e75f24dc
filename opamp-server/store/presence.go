package store

import (
	"context"
	"fmt"
	"time"
)

// Presence is each replica's lease on the agents it holds. A replica renews
// its lease while it runs; when a replica dies, its lease runs out and any
// other replica marks its agents offline (ExpirePresence), instead of
// leaving them online until they reconnect somewhere.
type Presence interface {
	// RenewPresence extends serverID's lease to until, creating it when
	// missing.
	RenewPresence(ctx context.Context, serverID string, until time.Time) error
	// DropPresence removes serverID's lease (a clean shutdown, once its
	// agents are marked offline); dropping a missing one is not an error.
	DropPresence(ctx context.Context, serverID string) error
	// ExpirePresence, in one transaction, removes every lease that ended
	// before now and marks offline the agents still online and held by
	// those servers (an agent that has moved to another server is not
	// theirs any more), notifying watchers of each. It returns the expired
	// leases, ordered by server ID.
	ExpirePresence(ctx context.Context, now time.Time) ([]ExpiredPresence, error)
}

// ExpiredPresence is a lease ExpirePresence removed.
type ExpiredPresence struct {
	ServerID string
	// Until is when the lease ended.
	Until time.Time
	// Agents are the instance UIDs it marked offline, in order.
	Agents []string
}

// ValidateLease checks RenewPresence's arguments.
func ValidateLease(serverID string, until time.Time) error {
	if err := ValidateKey("server_id", serverID); err != nil {
		return err
	}
	if until.IsZero() {
		return fmt.Errorf("presence of %q: lease end is zero: %w", serverID, ErrInvalid)
	}
	return nil
}

func (d *deadlineStore) RenewPresence(ctx context.Context, serverID string, until time.Time) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.RenewPresence(ctx, serverID, until)
}

func (d *deadlineStore) DropPresence(ctx context.Context, serverID string) error {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.DropPresence(ctx, serverID)
}

func (d *deadlineStore) ExpirePresence(ctx context.Context, now time.Time) ([]ExpiredPresence, error) {
	ctx, cancel := d.bound(ctx)
	defer cancel()
	return d.Store.ExpirePresence(ctx, now)
}
