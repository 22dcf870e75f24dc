// Package opamp is the control plane's OpAMP endpoint: it accepts the
// upstream supervisors' connections (WebSocket or plain HTTP), keeps the agent
// inventory current, and sends each agent the configuration assigned to it.
//
// It is written around how the supervisor really behaves (see the project's
// OpAMP notes): one complete configuration under config-map key "", a memory
// of hashes an agent failed to apply so a rollback never loops, identity by
// the last remote-config hash rather than the effective config, and a request
// for full state whenever the server cannot trust what it knows.
//
// Everything an agent sends is held to the limits in limits.go before any
// of it is stored: a message over one is refused whole and counted.
package opamp // import "github.com/phoenix/platform/opamp-server/opamp"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/open-telemetry/opamp-go/protobufs"
	opampserver "github.com/open-telemetry/opamp-go/server"
	"github.com/open-telemetry/opamp-go/server/types"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/internal/bodylimit"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// serverCapabilities are announced in every response.
const serverCapabilities = uint64(protobufs.ServerCapabilities_ServerCapabilities_AcceptsStatus |
	protobufs.ServerCapabilities_ServerCapabilities_OffersRemoteConfig |
	protobufs.ServerCapabilities_ServerCapabilities_AcceptsEffectiveConfig |
	protobufs.ServerCapabilities_ServerCapabilities_OffersConnectionSettings)

// Settings configure the OpAMP endpoint.
type Settings struct {
	// Store holds the inventory and assignments. Required.
	Store store.Store
	// Logger receives the server's log; nil discards it.
	Logger *slog.Logger
	// Metrics are the server's Prometheus instruments. Required.
	Metrics *servermetrics.Metrics
	// ServerID identifies this replica in agent records.
	ServerID string
	// Auth authenticates supervisors, each with its own agent credential;
	// nil disables auth.
	Auth *auth.Authenticator
	// CredentialRecheck is how often a WebSocket connection's credential is
	// looked up again, so a revocation on any replica ends it. Default 1m.
	CredentialRecheck time.Duration
	// OwnMetricsEndpoint is the OTLP/HTTP metrics URL offered to agents for
	// their own telemetry; empty makes no offer.
	OwnMetricsEndpoint string
	// HTTPHeartbeat is offered to plain-HTTP agents as their heartbeat,
	// which is their polling interval; 0 offers none. See offerHeartbeat.
	HTTPHeartbeat time.Duration
	// OnNewAgent is called, once, when an agent the inventory did not know
	// has sent its full description: the server assigns new agents their
	// default pipeline there. Nil does nothing.
	OnNewAgent func(ctx context.Context, a apitypes.Agent)
	// ResendAfter is how long to wait before sending the same configuration
	// again to an agent that has not reported on it. Default 15s.
	ResendAfter time.Duration
	// HTTPAgentTimeout marks a polling agent offline when it has been silent
	// this long. Default 90s (three default heartbeats).
	HTTPAgentTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the OpAMP endpoint.
type Server struct {
	set   Settings
	log   *slog.Logger
	opamp opampserver.OpAMPServer

	mu     sync.Mutex
	agents map[string]*agentState // by instance UID

	handlers chan struct{} // WebSocket messages being handled (see handle)

	runCtx atomic.Pointer[context.Context] // Start's context, for timed pushes
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// live counts WebSocket connections whose close has not been handled;
	// stopping tells those closes that Stop marks the agents offline.
	live     atomic.Int64
	stopping atomic.Bool
}

// agentState is what this replica knows about an agent beyond the store.
type agentState struct {
	mu        sync.Mutex
	conn      types.Connection // live WebSocket connection, nil otherwise
	transport apitypes.ConnectionType
	synced    bool                 // full state received on the current connection
	lastSent  map[string]time.Time // config hash → when this replica sent it
	offered   string               // own-metrics offer hash already sent
	// heartbeatOffered: the HTTP heartbeat went out since the agent last
	// sent its full state (a supervisor restart forgets it).
	heartbeatOffered bool
	lastSeen         time.Time
	uidBytes         []byte

	// config is what the agent last reported about its remote
	// configuration, kept from its last message through this replica:
	// only this replica's connection changes it while the agent is here,
	// so a push decides without reading the agent back.
	config *configReport
	// assigned is the hash of the agent's assignment as last read ("" for
	// none), valid while assignedKnown: a message that needs no
	// configuration skips reading the assignment. Every assignment change
	// this replica hears of clears it.
	assigned      string
	assignedKnown bool
}

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
	asg, err := s.assignment(ctx, uid)
	if err != nil {
		st.assignedKnown = false
		return nil, err
	}
	st.assigned, st.assignedKnown = "", true
	if asg != nil {
		st.assigned = asg.ConfigHash
	}
	return asg, nil
}

// New creates the endpoint; call Handler to mount it and Start to run its
// background work.
func New(set Settings) (*Server, error) {
	if set.Store == nil || set.Metrics == nil {
		return nil, errors.New("opamp: Store and Metrics are required")
	}
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	if set.ResendAfter <= 0 {
		set.ResendAfter = 15 * time.Second
	}
	if set.CredentialRecheck <= 0 {
		set.CredentialRecheck = time.Minute
	}
	if set.HTTPAgentTimeout <= 0 {
		set.HTTPAgentTimeout = 90 * time.Second
	}
	if set.Now == nil {
		set.Now = time.Now
	}
	return &Server{
		set:      set,
		log:      set.Logger.With("component", "opamp"),
		opamp:    opampserver.New(&opampLogger{set.Logger}),
		agents:   make(map[string]*agentState),
		handlers: make(chan struct{}, maxHandlers),
	}, nil
}

// Handler returns the HTTP handler to mount on the OpAMP path and the
// ConnContext function the http.Server must use for plain-HTTP agents.
// WebSockets are served here (websocket.go), plain-HTTP polls by opamp-go.
func (s *Server) Handler() (http.HandlerFunc, opampserver.ConnContext, error) {
	poll, connContext, err := s.opamp.Attach(opampserver.Settings{
		Callbacks: types.Callbacks{OnConnecting: s.onConnecting},
	})
	if err != nil {
		return nil, nil, err
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			s.serveWebSocket(w, r)
			return
		}
		poll(w, r)
	}, connContext, nil
}

// Start runs the assignment watcher and the offline sweeper until Stop.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	s.runCtx.Store(&ctx)
	if err := s.set.Store.MarkServerAgentsOffline(ctx, s.set.ServerID); err != nil {
		s.cancel()
		return fmt.Errorf("resetting this replica's agents: %w", err)
	}
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.watchAssignments(ctx) }()
	go func() { defer s.wg.Done(); s.sweepOffline(ctx) }()
	return nil
}

// Stop ends background work, closes agent connections and waits until every
// one is handled, then marks this replica's agents offline in one write:
// nothing touches the store after Stop returns, so it may be closed. Agents
// reconnect to another replica or when this one is back. Stop the listener
// first, so no connection arrives meanwhile.
func (s *Server) Stop(ctx context.Context) error {
	s.stopping.Store(true)
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Lock()
	var conns []types.Connection
	for _, st := range s.agents {
		st.mu.Lock()
		if st.conn != nil {
			conns = append(conns, st.conn)
		}
		st.mu.Unlock()
	}
	s.mu.Unlock()
	for _, c := range conns {
		_ = c.Disconnect()
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		for s.live.Load() > 0 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("draining agent connections: %w", ctx.Err())
	}
	// A store that is gone is not a failed stop: this replica marks its
	// agents offline again when it starts.
	if err := s.set.Store.MarkServerAgentsOffline(ctx, s.set.ServerID); err != nil {
		s.log.Warn("marking this replica's agents offline failed", "error", err)
	}
	return nil
}

func (s *Server) state(uid string) *agentState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.agents[uid]
	if !ok {
		st = &agentState{lastSent: map[string]time.Time{}}
		s.agents[uid] = st
	}
	return st
}

func (s *Server) onConnecting(r *http.Request) types.ConnectionResponse {
	agentUID, refused := s.authenticate(r)
	if refused != nil {
		return *refused
	}
	token, _ := auth.BearerToken(r)
	transport := apitypes.ConnectionWebSocket
	// opamp-go's own test: exactly this content type is a plain-HTTP poll.
	if r.Header.Get("Content-Type") == "application/x-protobuf" {
		transport = apitypes.ConnectionHTTP
		// opamp-go reads this same request's body next, without a bound:
		// read it here, bounded, and hand it over already inflated.
		// opamp-go would inflate without a bound (io.ReadAll of a gzip.Reader).
		body, v := bodylimit.Read(r, MaxRequestBytes, MaxMessageBytes)
		if v != nil {
			s.set.Metrics.RejectInput(s.log, servermetrics.SourceOpAMP, v.Reason, remoteHost(r.RemoteAddr), 1, v.Detail)
			return types.ConnectionResponse{Accept: false, HTTPStatusCode: v.Status,
				HTTPResponseHeader: map[string]string{"Connection": "close"}}
		}
		if refused := s.checkPollIdentity(r, agentUID, body); refused != nil {
			return *refused
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Del("Content-Encoding")
	}
	c := &connection{s: s, transport: transport, token: token, agentUID: agentUID, checkedAt: s.set.Now()}
	return types.ConnectionResponse{Accept: true, ConnectionCallbacks: types.ConnectionCallbacks{
		OnConnected:       c.onConnected,
		OnMessage:         c.onMessage,
		OnConnectionClose: c.onClose,
		OnReadMessageError: func(conn types.Connection, _ int, _ []byte, err error) {
			s.set.Metrics.OpAMPErrors.WithLabelValues("read").Inc()
			if errors.Is(err, websocket.ErrReadLimit) {
				s.set.Metrics.RejectInput(s.log, servermetrics.SourceOpAMP, servermetrics.ReasonMessageTooLarge,
					s.connAgent(conn), 1, fmt.Sprintf("WebSocket message over the limit of %d bytes", MaxRequestBytes))
			}
		},
		OnMessageResponseError: func(types.Connection, *protobufs.ServerToAgent, error) {
			s.set.Metrics.OpAMPErrors.WithLabelValues("send").Inc()
		},
	}}
}

// Push sends an agent its assignment now if it holds a WebSocket connection
// to this replica and needs it. Polling agents receive it on their next poll;
// agents of other replicas through those replicas' store watch.
func (s *Server) Push(ctx context.Context, uid string) error {
	s.mu.Lock()
	st, ok := s.agents[uid]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.assignedKnown = false // Push is how this replica hears of a change
	if st.conn == nil || !st.synced {
		return nil
	}
	var a apitypes.Agent
	if st.config != nil {
		a = st.config.agent(uid)
	} else {
		var err error
		if a, err = s.set.Store.GetAgent(ctx, uid); err != nil {
			return err
		}
	}
	asg, err := s.assignmentOf(ctx, st, uid)
	if err != nil {
		return err
	}
	if !needsConfig(a, asg, s.set.Now()) {
		return nil
	}
	// The same configuration twice in a row makes the supervisor report
	// APPLIED for the second copy at once, before the first has proven
	// itself, and that premature "last working" config defeats rollback.
	if sent, ok := st.lastSent[asg.ConfigHash]; ok && s.set.Now().Sub(sent) < s.set.ResendAfter {
		return nil
	}
	msg := &protobufs.ServerToAgent{InstanceUid: st.uidBytes, Capabilities: serverCapabilities, RemoteConfig: remoteConfig(asg)}
	if err := st.conn.Send(ctx, msg); err != nil {
		s.set.Metrics.OpAMPErrors.WithLabelValues("send").Inc()
		return fmt.Errorf("pushing config to %s: %w", uid, err)
	}
	st.lastSent[asg.ConfigHash] = s.set.Now()
	s.set.Metrics.ConfigPushes.Inc()
	s.log.Info("pushed configuration", "agent", uid, "hash", short(asg.ConfigHash), "pipeline", asg.Pipeline)
	return nil
}

// Connected reports whether the agent holds a live connection to this replica.
func (s *Server) Connected(uid string) bool {
	s.mu.Lock()
	st, ok := s.agents[uid]
	s.mu.Unlock()
	if !ok {
		return false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.conn != nil || s.set.Now().Sub(st.lastSeen) < s.set.HTTPAgentTimeout
}

func (s *Server) assignment(ctx context.Context, uid string) (*apitypes.Assignment, error) {
	asg, err := s.set.Store.GetAssignment(ctx, uid)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &asg, nil
}

// maxPushes bounds the pushes in flight. Each reads the assignment it
// sends (a round trip to PostgreSQL) and a fleet-wide assignment announces
// thousands at once: one after the other, the last agent of ten thousand
// waited half a minute.
const maxPushes = 16

// pusher queues agents to push and pushes them on maxPushes workers. The
// watcher only queues, so it never falls behind the store's changes (which
// would cost a resync, and a push to every agent); an agent queued twice
// before its push is pushed once, with what is current then.
type pusher struct {
	s       *Server
	mu      sync.Mutex
	queued  map[string]bool
	order   []string
	wake    chan struct{}
	workers sync.WaitGroup
}

func newPusher(ctx context.Context, s *Server) *pusher {
	p := &pusher{s: s, queued: map[string]bool{}, wake: make(chan struct{}, 1)}
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
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *pusher) next() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.order) == 0 {
		p.order = nil // let a fleet's worth of queue go
		return "", false
	}
	uid := p.order[0]
	p.order = p.order[1:]
	delete(p.queued, uid)
	if len(p.order) > 0 {
		select { // more to do: wake another worker
		case p.wake <- struct{}{}:
		default:
		}
	}
	return uid, true
}

func (p *pusher) work(ctx context.Context) {
	for {
		uid, ok := p.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
				continue
			}
		}
		if err := p.s.Push(ctx, uid); err != nil && ctx.Err() == nil {
			p.s.log.Warn("push failed", "agent", uid, "error", err)
		}
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
				s.forgetIfDeleted(ctx, ch.ID)
				continue
			}
			if ch.Kind != store.ChangeAssignment {
				continue
			}
			p.push(ch.ID)
		}
	}
}

// forgetIfDeleted drops what this replica keeps of an agent removed from
// the inventory (deleted, or pruned after its retention), unless it is
// connected here: the map of agents stays as large as the inventory. Every
// write to an agent announces a change, so the store is read only for an
// agent this replica could forget.
func (s *Server) forgetIfDeleted(ctx context.Context, uid string) {
	s.mu.Lock()
	st, ok := s.agents[uid]
	s.mu.Unlock()
	if !ok {
		return
	}
	st.mu.Lock()
	live := st.conn != nil || s.set.Now().Sub(st.lastSeen) < s.set.HTTPAgentTimeout
	st.mu.Unlock()
	if live {
		return
	}
	if _, err := s.set.Store.GetAgent(ctx, uid); !errors.Is(err, store.ErrNotFound) {
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
		st.assignedKnown = false
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

// sweepOffline marks polling agents offline once they stop polling.
func (s *Server) sweepOffline(ctx context.Context) {
	tick := time.NewTicker(max(s.set.HTTPAgentTimeout/3, time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := s.set.Now()
		s.mu.Lock()
		var stale []string
		for uid, st := range s.agents {
			st.mu.Lock()
			if st.conn == nil && st.transport == apitypes.ConnectionHTTP && now.Sub(st.lastSeen) > s.set.HTTPAgentTimeout {
				stale = append(stale, uid)
				st.transport = ""
			}
			st.mu.Unlock()
		}
		s.mu.Unlock()
		for _, uid := range stale {
			s.markOffline(ctx, uid)
		}
	}
}

func (s *Server) markOffline(ctx context.Context, uid string) {
	a, err := s.set.Store.GetAgent(ctx, uid)
	if err != nil {
		return
	}
	if !a.Online || (a.ServerID != "" && a.ServerID != s.set.ServerID) {
		return
	}
	a.Online = false
	if err := s.set.Store.UpsertAgent(ctx, a); err != nil {
		s.log.Warn("marking agent offline failed", "agent", uid, "error", err)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// remoteHost names a sender by its address before its instance UID is
// known.
func remoteHost(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

// connAgent names the agent of a WebSocket connection: its instance UID
// once it has sent a message, its address before.
func (s *Server) connAgent(conn types.Connection) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for uid, st := range s.agents {
		st.mu.Lock()
		same := st.conn == conn
		st.mu.Unlock()
		if same {
			return uid
		}
	}
	if nc := conn.Connection(); nc != nil && nc.RemoteAddr() != nil {
		return remoteHost(nc.RemoteAddr().String())
	}
	return ""
}

func short(hash string) string {
	if len(hash) > 12 {
		return hash[:12]
	}
	return hash
}
