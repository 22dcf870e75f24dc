package opamp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// Pushing configurations: what this replica remembers of each agent's
// configuration, the push itself, and the watcher that pushes as
// assignments change anywhere.

// configReport is the part of an agent's record needsConfig reads.
type configReport struct {
	status apitypes.RemoteConfigStatus
	failed []string
	retry  *apitypes.ApplyRetry
}

func reportOf(a apitypes.Agent) *configReport {
	return &configReport{status: a.RemoteConfig, failed: slices.Clone(a.FailedConfigHashes), retry: a.ApplyRetry}
}

// agent is the record needsConfig reads, rebuilt from the report.
func (r *configReport) agent(uid string) apitypes.Agent {
	return apitypes.Agent{InstanceUID: uid, RemoteConfig: r.status, FailedConfigHashes: r.failed, ApplyRetry: r.retry}
}

// assignmentOf reads uid's assignment and remembers its hash; the caller
// holds st.mu.
func (s *Server) assignmentOf(ctx context.Context, st *agentState, uid string) (*apitypes.Assignment, error) {
	asg, err := s.set.Store.GetAssignment(ctx, uid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		st.assigned, st.assignedKnown = "", true
		return nil, nil
	case err != nil:
		st.assignedKnown = false
		return nil, err
	}
	st.assigned, st.assignedKnown = asg.ConfigHash, true
	return &asg, nil
}

// Push sends an agent its assignment now if it holds a WebSocket connection
// to this replica and needs it. Polling agents receive it on their next poll;
// agents of other replicas through those replicas' store watch.
func (s *Server) Push(ctx context.Context, uid string) error {
	return s.push(ctx, uid, func(st *agentState) (*apitypes.Assignment, error) { return s.assignmentOf(ctx, st, uid) })
}

// pushMany pushes agents whose assignments it reads at once: a fleet-wide
// change is a few reads, not one round trip per agent. Only agents
// connected here are read.
func (s *Server) pushMany(ctx context.Context, uids []string) error {
	live := uids[:0:0]
	s.mu.Lock()
	for _, uid := range uids {
		if st, ok := s.agents[uid]; ok {
			st.mu.Lock()
			if st.conn != nil && st.synced {
				live = append(live, uid)
			}
			st.mu.Unlock()
		}
	}
	s.mu.Unlock()
	if len(live) <= 1 {
		var err error
		for _, uid := range live {
			err = errors.Join(err, s.Push(ctx, uid))
		}
		return err
	}
	asgs, err := s.set.Store.GetAssignments(ctx, live)
	if err != nil {
		return err
	}
	for _, uid := range live {
		err = errors.Join(err, s.push(ctx, uid, func(st *agentState) (*apitypes.Assignment, error) {
			asg, ok := asgs[uid]
			st.assigned, st.assignedKnown = asg.ConfigHash, true
			if !ok {
				return nil, nil
			}
			return &asg, nil
		}))
	}
	return err
}

// push sends uid its assignment, as assignment reads it, if it needs it.
func (s *Server) push(ctx context.Context, uid string, assignment func(*agentState) (*apitypes.Assignment, error)) error {
	s.mu.Lock()
	st, ok := s.agents[uid]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.assignedKnown = false // a push is how this replica hears of a change
	if st.conn == nil || !st.synced {
		return nil
	}
	var a apitypes.Agent
	if st.config != nil {
		a = st.config.agent(uid)
	} else {
		var err error
		if a, err = s.set.Store.GetAgentBrief(ctx, uid); err != nil {
			return err
		}
	}
	asg, err := assignment(st)
	if err != nil {
		return err
	}
	if !needsConfig(a, asg, s.set.Now()) {
		return nil
	}
	// The same configuration twice in a row makes the supervisor report
	// APPLIED for the second copy at once, before the first has proven
	// itself, and that premature "last working" config defeats rollback.
	if st.sentRecently(asg.ConfigHash, s.set.Now(), s.set.ResendAfter) {
		return nil
	}
	msg := &protobufs.ServerToAgent{InstanceUid: st.uidBytes, Capabilities: serverCapabilities, RemoteConfig: remoteConfig(asg)}
	if err := st.conn.Send(ctx, msg); err != nil {
		s.set.Metrics.OpAMPErrors.WithLabelValues("send").Inc()
		return fmt.Errorf("pushing config to %s: %w", uid, err)
	}
	st.lastSentHash, st.lastSentAt = asg.ConfigHash, s.set.Now()
	s.set.Metrics.ConfigPushes.Inc()
	s.log.Debug("pushed configuration", "agent", uid, "hash", short(asg.ConfigHash), "pipeline", asg.Pipeline)
	return nil
}

// maxPushes bounds the pushes in flight. Each reads the assignment it
// sends (a round trip to PostgreSQL) and a fleet-wide assignment announces
// thousands at once: one after the other, the last agent of ten thousand
// waited half a minute.
const maxPushes = 16

// pushBatch is the most agents a worker takes at once; their assignments
// are one read.
const pushBatch = 64

// pusher queues agents to push and pushes them on maxPushes workers. The
// watcher only queues, so it never falls behind the store's changes (which
// would cost a resync, and a push to every agent); an agent queued twice
// before its push is pushed once, with what is current then. An agent is
// pushed by one worker at a time, so a push that read an older assignment
// never follows one that read a newer.
type pusher struct {
	s        *Server
	mu       sync.Mutex
	queued   map[string]bool
	inflight map[string]bool
	order    []string
	wake     chan struct{}
	workers  sync.WaitGroup
}

func newPusher(ctx context.Context, s *Server) *pusher {
	p := &pusher{s: s, queued: map[string]bool{}, inflight: map[string]bool{}, wake: make(chan struct{}, 1)}
	for range maxPushes {
		p.workers.Go(func() { p.work(ctx) })
	}
	return p
}

func (p *pusher) push(uid string) {
	p.mu.Lock()
	if !p.queued[uid] {
		p.queued[uid] = true
		p.order = append(p.order, uid)
	}
	p.mu.Unlock()
	p.signal()
}

// next takes up to n queued agents not being pushed, in queue order.
func (p *pusher) next(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var took []string
	rest := p.order[:0]
	for _, uid := range p.order {
		if len(took) < n && !p.inflight[uid] {
			took = append(took, uid)
			delete(p.queued, uid)
			p.inflight[uid] = true
			continue
		}
		rest = append(rest, uid)
	}
	clear(p.order[len(rest):])
	p.order = rest
	if len(p.order) == 0 {
		p.order = nil // let a fleet's worth of queue go
	}
	if len(took) > 0 && len(p.order) > 0 {
		p.signal() // more to do: wake another worker
	}
	return took
}

// done ends the pushes of uids; one queued again meanwhile may go now.
func (p *pusher) done(uids []string) {
	p.mu.Lock()
	for _, uid := range uids {
		delete(p.inflight, uid)
	}
	more := len(p.order) > 0
	p.mu.Unlock()
	if more {
		p.signal()
	}
}

func (p *pusher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *pusher) work(ctx context.Context) {
	for {
		uids := p.next(pushBatch)
		if len(uids) == 0 {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		if err := p.s.pushMany(ctx, uids); err != nil && ctx.Err() == nil {
			p.s.log.Warn("push failed", "agents", len(uids), "error", err)
		}
		p.done(uids)
	}
}

// watchAssignments pushes assignments as they change, on any replica.
func (s *Server) watchAssignments(ctx context.Context) {
	p := newPusher(ctx, s)
	defer p.workers.Wait()
	backoff := time.Second
	for ctx.Err() == nil {
		changes, err := s.set.Store.Watch(ctx)
		if err != nil {
			s.log.Warn("watching store changes failed; retrying", "error", err)
			sleep(ctx, backoff)
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = time.Second
		// Changes may have been missed while not watching: re-check all.
		s.pushAll(p)
		for ch := range changes {
			if ch.Kind == store.ChangeResync {
				s.pushAll(p)
				continue
			}
			if ch.Kind == store.ChangeAgent {
				s.agentWritten(ctx, ch.ID)
				continue
			}
			if ch.Kind != store.ChangeAssignment {
				continue
			}
			p.push(ch.ID)
		}
	}
}

// agentWritten hears of a write to an agent: a write from elsewhere drops
// its held record (the next message reads the store) and its record not
// yet written (recordWriter), one of this
// replica's own is counted off; and what this replica keeps of an
// agent removed from the inventory (deleted, or pruned after its
// retention) is forgotten unless it is connected here: the map of agents
// stays as large as the inventory. Every write to an agent announces a
// change, so the store is read only for an agent this replica could forget.
func (s *Server) agentWritten(ctx context.Context, uid string) {
	s.mu.Lock()
	st, ok := s.agents[uid]
	s.mu.Unlock()
	if !ok {
		return
	}
	st.mu.Lock()
	if st.ownWrites > 0 {
		st.ownWrites-- // this replica's own write: the held record is it
	} else if st.record = nil; s.writer.drop(uid) {
		// Written elsewhere: read it again. A record of this replica's not
		// yet written would overwrite that write; the agent is asked for
		// everything instead.
		st.synced = false
	}
	live := st.conn != nil || s.set.Now().Sub(st.lastSeen) < s.set.HTTPAgentTimeout
	st.mu.Unlock()
	if live {
		return
	}
	if _, err := s.set.Store.GetAgentBrief(ctx, uid); !errors.Is(err, store.ErrNotFound) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.agents[uid]; ok {
		st.mu.Lock()
		connected := st.conn != nil
		st.mu.Unlock()
		if !connected {
			delete(s.agents, uid)
		}
	}
}

// pushAt pushes uid's assignment once at, for a retry planned after an
// apply timeout: a WebSocket agent would otherwise wait for its next
// heartbeat. Polling agents receive it with the first poll after at.
func (s *Server) pushAt(uid string, at time.Time) {
	p := s.runCtx.Load()
	if p == nil {
		return
	}
	ctx := *p
	time.AfterFunc(max(at.Sub(s.set.Now()), 0), func() {
		if ctx.Err() != nil {
			return
		}
		if err := s.Push(ctx, uid); err != nil {
			s.log.Warn("push failed", "agent", uid, "error", err)
		}
	})
}

// pushAll re-checks every agent after changes may have been missed: each
// forgets the assignment it knew, and those connected here are pushed.
func (s *Server) pushAll(p *pusher) {
	s.mu.Lock()
	var uids []string
	for uid, st := range s.agents {
		st.mu.Lock()
		st.assignedKnown, st.record, st.ownWrites = false, nil, 0
		if st.conn != nil && st.synced {
			uids = append(uids, uid)
		}
		st.mu.Unlock()
	}
	s.mu.Unlock()
	for _, uid := range uids {
		p.push(uid)
	}
}
