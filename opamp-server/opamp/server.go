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
	writer   *recordWriter // agent records written behind their messages

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
	synced    bool // full state received on the current connection
	// lastSentHash is the configuration this replica sent last, at
	// lastSentAt (sentRecently).
	lastSentHash string
	lastSentAt   time.Time
	offered      string // own-metrics offer hash already sent
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

	// record is the agent as its messages left it while its WebSocket is
	// synced here (record.go); seq the last sequence number it sent on
	// that connection, which the stored record may lag.
	record *heldRecord
	seq    uint64
	// ownWrites counts this replica's writes of the record whose change
	// events have not come back yet: those leave the record held.
	ownWrites int
}

// sentRecently reports whether hash is the configuration last sent, within
// resendAfter of now: the same configuration twice in a row makes the
// supervisor report APPLIED for the second copy at once, before the first
// has proven itself. Another one sent in between (an experiment's stop
// restoring what its start replaced) does not hold it back.
func (st *agentState) sentRecently(hash string, now time.Time, resendAfter time.Duration) bool {
	return st.lastSentHash == hash && now.Sub(st.lastSentAt) < resendAfter
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
	s := &Server{
		set:      set,
		log:      set.Logger.With("component", "opamp"),
		opamp:    opampserver.New(&opampLogger{set.Logger}),
		agents:   make(map[string]*agentState),
		handlers: make(chan struct{}, maxHandlers),
	}
	s.writer = newRecordWriter(s)
	return s, nil
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
// one is handled and every record written, then marks this replica's
// agents offline in one write:
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
	if err := s.writer.drain(ctx); err != nil {
		return fmt.Errorf("writing agent records: %w", err)
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
		st = &agentState{}
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
			s.markOffline(ctx, uid, time.Time{})
		}
	}
}

// markOffline marks uid offline if this replica holds it, with the time
// its last message arrived (a live agent's heartbeats are not all written).
func (s *Server) markOffline(ctx context.Context, uid string, lastSeen time.Time) {
	a, err := s.set.Store.GetAgentBrief(ctx, uid)
	if err != nil {
		return
	}
	if !a.Online || (a.ServerID != "" && a.ServerID != s.set.ServerID) {
		return
	}
	a.Online = false
	if lastSeen.After(a.LastSeen) {
		a.LastSeen = lastSeen
	}
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
