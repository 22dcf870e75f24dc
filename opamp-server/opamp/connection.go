package opamp // import "github.com/phoenix/platform/opamp-server/opamp"

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/open-telemetry/opamp-go/server/types"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
)

// connection handles one accepted OpAMP connection: a WebSocket for its
// lifetime, or a single plain-HTTP poll.
type connection struct {
	s         *Server
	transport apitypes.ConnectionType
	token     string // the bearer token the agent presented, echoed in offers
	// agentUID is the instance UID the credential was issued to ("" with
	// auth disabled); checkedAt when it was last looked up.
	agentUID  string
	checkedAt time.Time
	// uid is the agent this WebSocket has spoken for: onClose finds its
	// state without a scan of every agent (a mass disconnect would cost
	// the square of the fleet).
	uid atomic.Pointer[string]
}

// onConnected counts a WebSocket until its close is handled.
func (c *connection) onConnected(_ context.Context, _ types.Connection) {
	if c.transport == apitypes.ConnectionWebSocket {
		c.s.live.Add(1) // onClose always follows
	}
}

func (c *connection) onMessage(ctx context.Context, conn types.Connection, msg *protobufs.AgentToServer) *protobufs.ServerToAgent {
	s := c.s
	for _, k := range messageKinds(msg) {
		s.set.Metrics.OpAMPMessages.WithLabelValues(k).Inc()
	}
	uid, err := instanceUID(msg.GetInstanceUid())
	if err != nil {
		s.set.Metrics.OpAMPErrors.WithLabelValues("handle").Inc()
		return errorResponse(msg, protobufs.ServerErrorResponseType_ServerErrorResponseType_BadRequest, err.Error())
	}
	if !c.checkMessageIdentity(ctx, conn, msg, uid) {
		return nil
	}
	// Over a limit: refused whole, before anything (even the agent's
	// presence) is stored.
	v, cut := limitMessage(msg)
	if v != nil {
		s.set.Metrics.RejectInput(s.log, servermetrics.SourceOpAMP, v.reason, uid, 1, v.detail)
		return errorResponse(msg, protobufs.ServerErrorResponseType_ServerErrorResponseType_BadRequest, "message refused: "+v.detail)
	}
	if len(cut) > 0 {
		s.set.Metrics.RejectInput(s.log, servermetrics.SourceOpAMP, servermetrics.ReasonTextTruncated, uid, len(cut),
			fmt.Sprintf("cut to %d bytes: %s", MaxTextBytes, strings.Join(cut, ", ")))
	}
	now := s.set.Now()
	st := s.state(uid)
	st.mu.Lock()
	defer st.mu.Unlock()

	if c.transport == apitypes.ConnectionWebSocket && st.conn != conn {
		// A new connection: what the agent sends first may be a delta.
		if st.conn == nil {
			s.set.Metrics.AgentsConnected.WithLabelValues(string(apitypes.ConnectionWebSocket)).Inc()
		}
		st.conn, st.synced = conn, false
		st.lastSentHash = ""
		s.log.Info("agent connected", "agent", uid, "transport", c.transport)
	}
	if s.writer.failed(uid) {
		// The store missed some of what the agent said: start from the
		// store, and ask the agent for everything.
		st.ownWrites = max(st.ownWrites-1, 0)
		st.record, st.synced = nil, false
	}
	st.transport, st.lastSeen, st.uidBytes = c.transport, now, msg.GetInstanceUid()
	if c.transport == apitypes.ConnectionWebSocket {
		c.uid.Store(&uid)
	}

	a, known, err := c.loadRecord(ctx, st, conn, uid)
	if err != nil {
		s.set.Metrics.OpAMPErrors.WithLabelValues("store").Inc()
		s.log.Error("loading agent failed", "agent", uid, "error", err)
		return errorResponse(msg, protobufs.ServerErrorResponseType_ServerErrorResponseType_Unavailable, "inventory unavailable")
	}
	if !known {
		a = apitypes.Agent{InstanceUID: uid}
	}
	if c.transport == apitypes.ConnectionWebSocket && st.synced {
		a.SequenceNum = st.seq // the stored one lags: heartbeats are not all written
	}
	before := cloneRecord(a)

	// Ask for everything when this replica cannot trust what it knows: a new
	// connection that opened with a delta, an unknown agent, or a gap in the
	// sequence numbers.
	fullState := msg.GetAgentDescription() != nil
	needFull := false
	switch {
	case fullState:
		st.synced = true
	case !known || (c.transport == apitypes.ConnectionWebSocket && !st.synced):
		needFull = true
	case msg.GetSequenceNum() != a.SequenceNum+1:
		needFull = true
	}

	// New to the inventory: never described before (the first message of an
	// unknown agent may be a delta; its full state follows).
	isNew := len(a.Description.Identifying) == 0 && len(a.Description.NonIdentifying) == 0

	retryBefore := a.ApplyRetry
	if apply(&a, msg, now) {
		s.set.Metrics.ConfigOutcomes.WithLabelValues(string(a.RemoteConfig.Status)).Inc()
		// A fleet-wide assignment brings two reports per agent: progress is
		// for debugging (the API counts it), a failure is for the operator.
		level := slog.LevelDebug
		if a.RemoteConfig.Status == apitypes.ConfigStatusFailed {
			level = slog.LevelWarn
		}
		s.log.Log(ctx, level, "remote config status", "agent", uid, "status", a.RemoteConfig.Status,
			"hash", short(a.RemoteConfig.Hash), "error", a.RemoteConfig.ErrorMessage)
	}
	if r := a.ApplyRetry; r != nil && (retryBefore == nil || *retryBefore != *r) {
		s.set.Metrics.ConfigApplyRetries.Inc()
		s.log.Warn("collector not healthy within the supervisor's apply timeout; sending the configuration again",
			"agent", uid, "hash", short(r.Hash), "attempt", r.Attempts, "limit", r.Limit, "at", r.NextAt)
		s.pushAt(uid, r.NextAt)
	}
	a.Online = msg.GetAgentDisconnect() == nil
	a.ConnectionType = c.transport
	a.ServerID = s.set.ServerID
	st.config, st.seq = reportOf(a), a.SequenceNum
	if wrote, err := c.saveRecord(ctx, st, before, a, now, isNew); err != nil {
		s.set.Metrics.OpAMPErrors.WithLabelValues("store").Inc()
		s.log.Error("saving agent failed", "agent", uid, "error", err)
	} else if wrote && isNew && s.set.OnNewAgent != nil && msg.GetAgentDescription() != nil {
		s.set.OnNewAgent(ctx, a)
	}

	resp := &protobufs.ServerToAgent{InstanceUid: msg.GetInstanceUid(), Capabilities: serverCapabilities}
	if needFull {
		resp.Flags |= uint64(protobufs.ServerToAgentFlags_ServerToAgentFlags_ReportFullState)
		// The full state arrives within milliseconds; decide on config then.
		return resp
	}
	if c.transport == apitypes.ConnectionHTTP {
		st.synced = true
	}
	c.attachConfig(ctx, st, a, resp, now)
	c.attachOffers(st, a, resp)
	c.offerHeartbeat(st, a, msg, resp)
	return resp
}

// attachConfig adds the agent's assignment when it needs it and this replica
// has not just sent it.
func (c *connection) attachConfig(ctx context.Context, st *agentState, a apitypes.Agent, resp *protobufs.ServerToAgent, now time.Time) {
	s := c.s
	if st.assignedKnown && !needsConfig(a, &apitypes.Assignment{ConfigHash: st.assigned}, now) {
		return // most messages are status reports: no read for them
	}
	asg, err := s.assignmentOf(ctx, st, a.InstanceUID)
	if err != nil {
		s.log.Error("loading assignment failed", "agent", a.InstanceUID, "error", err)
		return
	}
	if !needsConfig(a, asg, now) {
		return
	}
	if st.sentRecently(asg.ConfigHash, now, s.set.ResendAfter) {
		return
	}
	resp.RemoteConfig = remoteConfig(asg)
	st.lastSentHash, st.lastSentAt = asg.ConfigHash, now
	s.set.Metrics.ConfigPushes.Inc()
	s.log.Debug("sending configuration", "agent", a.InstanceUID, "hash", short(asg.ConfigHash), "pipeline", asg.Pipeline)
}

// attachOffers offers the own-metrics destination once per agent and
// replica lifetime: the supervisor restarts the collector to apply it.
func (c *connection) attachOffers(st *agentState, a apitypes.Agent, resp *protobufs.ServerToAgent) {
	endpoint := c.s.set.OwnMetricsEndpoint
	if endpoint == "" || a.Capabilities&uint64(protobufs.AgentCapabilities_AgentCapabilities_ReportsOwnMetrics) == 0 {
		return
	}
	hash := store.HashConfig([]byte(endpoint))
	if st.offered == hash {
		return
	}
	settings := &protobufs.TelemetryConnectionSettings{DestinationEndpoint: endpoint}
	if c.token != "" {
		settings.Headers = &protobufs.Headers{Headers: []*protobufs.Header{{Key: "Authorization", Value: "Bearer " + c.token}}}
	}
	resp.ConnectionSettings = &protobufs.ConnectionSettingsOffers{Hash: []byte(hash), OwnMetrics: settings}
	st.offered = hash
}

// offerHeartbeat offers a plain-HTTP agent the server's heartbeat, which
// opamp-go's client makes its polling interval: a configuration then waits
// for a poll at most that long instead of the supervisor's 30s. The offer
// is OpAMP connection settings holding only the heartbeat, so it goes only
// to agents that do not accept connection settings (the supervisor's
// default): opamp-go applies the heartbeat itself for those, while an agent
// that accepts them would reconnect with the offer's headers and TLS (none)
// in place of its own. The supervisor forgets the interval when it
// restarts, and sends its full state then, which renews the offer.
func (c *connection) offerHeartbeat(st *agentState, a apitypes.Agent, msg *protobufs.AgentToServer, resp *protobufs.ServerToAgent) {
	interval := c.s.set.HTTPHeartbeat
	if msg.GetAgentDescription() != nil {
		st.heartbeatOffered = false
	}
	caps := a.Capabilities
	if interval <= 0 || c.transport != apitypes.ConnectionHTTP || st.heartbeatOffered ||
		caps&uint64(protobufs.AgentCapabilities_AgentCapabilities_ReportsHeartbeat) == 0 ||
		caps&uint64(protobufs.AgentCapabilities_AgentCapabilities_AcceptsOpAMPConnectionSettings) != 0 {
		return
	}
	if resp.ConnectionSettings == nil {
		resp.ConnectionSettings = &protobufs.ConnectionSettingsOffers{}
	}
	seconds := uint64(interval / time.Second)
	resp.ConnectionSettings.Opamp = &protobufs.OpAMPConnectionSettings{HeartbeatIntervalSeconds: seconds}
	resp.ConnectionSettings.Hash = []byte(store.HashConfig(append(resp.ConnectionSettings.Hash, fmt.Sprintf("heartbeat %d", seconds)...)))
	st.heartbeatOffered = true
}

func (c *connection) onClose(conn types.Connection) {
	if c.transport != apitypes.ConnectionWebSocket {
		return // a plain-HTTP poll ends after every message
	}
	s := c.s
	defer s.live.Add(-1)
	p := c.uid.Load()
	if p == nil {
		return // it never spoke for an agent
	}
	uid := *p
	s.mu.Lock()
	st, ok := s.agents[uid]
	s.mu.Unlock()
	if !ok {
		return
	}
	st.mu.Lock()
	mine := st.conn == conn
	if mine {
		st.conn, st.synced, st.record = nil, false, nil
	}
	lastSeen := st.lastSeen
	st.mu.Unlock()
	if !mine {
		return // the agent has a newer connection already
	}
	s.set.Metrics.AgentsConnected.WithLabelValues(string(apitypes.ConnectionWebSocket)).Dec()
	s.log.Info("agent disconnected", "agent", uid)
	if s.stopping.Load() {
		return // Stop marks every agent of this replica offline at once
	}
	s.writer.flush(uid) // what the agent said last comes before offline
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.markOffline(ctx, uid, lastSeen)
}

func errorResponse(msg *protobufs.AgentToServer, typ protobufs.ServerErrorResponseType, text string) *protobufs.ServerToAgent {
	return &protobufs.ServerToAgent{
		InstanceUid:   msg.GetInstanceUid(),
		ErrorResponse: &protobufs.ServerErrorResponse{Type: typ, ErrorMessage: text},
	}
}
