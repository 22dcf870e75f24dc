package controlplane

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenix/platform/opamp-server/store"
)

// Presence lease bounds (Config.PresenceLease).
const (
	DefaultPresenceLease = 30 * time.Second
	// MinPresenceLease leaves a renewal (every third of the lease) time to
	// cross a slow store; a lease that runs out under a live replica marks
	// its agents offline until they next report.
	MinPresenceLease = 3 * time.Second
	MaxPresenceLease = 10 * time.Minute
)

// presence holds this replica's lease on the agents it holds and expires
// the leases of replicas that stopped renewing theirs (they crashed): their
// agents are marked offline instead of staying online until they reconnect.
type presence struct {
	st       store.Store
	serverID string
	lease    time.Duration
	now      func() time.Time
	log      *slog.Logger
	// expiredLeases and offlineAgents count what this replica expired.
	expiredLeases, offlineAgents prometheus.Counter

	cancel context.CancelFunc
	done   chan struct{}
}

func newPresence(st store.Store, cfg Config, log *slog.Logger, reg prometheus.Registerer) *presence {
	p := &presence{
		st: st, serverID: cfg.ServerID, lease: cfg.PresenceLease, now: time.Now, log: log.With("component", "presence"),
		expiredLeases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_presence_leases_expired_total",
			Help: "Presence leases of other replicas this replica found run out (those replicas stopped without a clean shutdown).",
		}),
		offlineAgents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_presence_agents_offline_total",
			Help: "Agents this replica marked offline because the lease of the replica holding them ran out.",
		}),
	}
	reg.MustRegister(p.expiredLeases, p.offlineAgents)
	return p
}

// start takes the lease, before any agent connects, then keeps it and
// watches the others' until stop.
func (p *presence) start(ctx context.Context) error {
	if err := p.renew(ctx); err != nil {
		return fmt.Errorf("taking this replica's presence lease: %w", err)
	}
	ctx, p.cancel = context.WithCancel(ctx)
	p.done = make(chan struct{})
	go func() {
		defer close(p.done)
		p.run(ctx)
	}()
	return nil
}

func (p *presence) run(ctx context.Context) {
	tick := time.NewTicker(p.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.renew(ctx); err != nil {
			if ctx.Err() == nil {
				p.log.Warn("renewing this replica's presence lease failed", "error", err, "lease", p.lease)
			}
			// This replica's own lease may be what ran out: never expire
			// it while it is alive.
			continue
		}
		p.expire(ctx)
	}
}

func (p *presence) renew(ctx context.Context) error {
	return p.st.RenewPresence(ctx, p.serverID, p.now().Add(p.lease))
}

func (p *presence) expire(ctx context.Context) {
	expired, err := p.st.ExpirePresence(ctx, p.now())
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("expiring presence leases failed", "error", err)
		}
		return
	}
	for _, e := range expired {
		p.expiredLeases.Inc()
		p.offlineAgents.Add(float64(len(e.Agents)))
		p.log.Warn("a replica's presence lease ran out: its agents are offline until they reconnect",
			"server_id", e.ServerID, "lease_ended", e.Until, "agents", len(e.Agents))
	}
}

// stop ends renewals and, once this replica's agents are marked offline
// (the drain does so; checked again here, as the drain only logs a
// failure), drops the lease. With agents still marked online the lease is
// kept: it runs out and another replica marks them offline.
func (p *presence) stop(ctx context.Context) {
	if p.cancel == nil {
		return
	}
	p.cancel()
	<-p.done
	if err := p.st.MarkServerAgentsOffline(ctx, p.serverID); err != nil {
		p.log.Warn("keeping the presence lease: this replica's agents may still be marked online", "error", err)
		return
	}
	if err := p.st.DropPresence(ctx, p.serverID); err != nil {
		p.log.Warn("dropping the presence lease failed; it runs out by itself", "error", err, "lease", p.lease)
	}
}
