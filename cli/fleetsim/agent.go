package fleetsim

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/open-telemetry/opamp-go/client"
	"github.com/open-telemetry/opamp-go/client/types"
	"github.com/open-telemetry/opamp-go/protobufs"
)

// capabilities are the upstream supervisor's with the configuration the
// project deploys (OPAMP-NOTES): remote config accepted and reported,
// effective config, health, own metrics and heartbeats.
const capabilities = protobufs.AgentCapabilities_AgentCapabilities_ReportsStatus |
	protobufs.AgentCapabilities_AgentCapabilities_AcceptsRemoteConfig |
	protobufs.AgentCapabilities_AgentCapabilities_ReportsEffectiveConfig |
	protobufs.AgentCapabilities_AgentCapabilities_ReportsRemoteConfig |
	protobufs.AgentCapabilities_AgentCapabilities_ReportsHealth |
	protobufs.AgentCapabilities_AgentCapabilities_ReportsOwnMetrics |
	protobufs.AgentCapabilities_AgentCapabilities_ReportsHeartbeat

// outcome is where an agent stands with the latest configuration it
// received.
type outcome uint8

const (
	outcomeNone outcome = iota
	outcomeApplying
	outcomeApplied
	outcomeFailed
)

// agent is one simulated supervisor with its collector. Its own memory is
// a few hundred bytes plus the configuration it runs; the opamp-go client
// (connection, buffers, goroutines) is most of what an agent costs.
type agent struct {
	f      *Fleet
	index  int
	id     Identity
	uid    types.InstanceUid
	fails  bool          // fails every configuration it applies
	delay  time.Duration // how long an apply takes
	client client.OpAMPClient

	mu            sync.Mutex
	started       bool
	stopped       bool
	connected     bool
	everConnected bool
	refused       bool // the last connection attempt was answered with an error status

	// running is the configuration the collector runs (nil before the
	// first), runningHash its hash, and startedAt when the collector
	// (re)started with it.
	running     *protobufs.AgentConfigMap
	runningHash []byte
	startedAt   time.Time
	// meters are the variants of the cost_meter processors it runs.
	meters []string

	// The latest configuration received: its hash, where the agent stands
	// with it, and the push wave it arrived in. gen increases with every
	// configuration received, so a superseded apply does nothing.
	latestHash []byte
	latest     outcome
	pending    *protobufs.AgentConfigMap
	wave       *wave
	gen        uint64

	// telemetry is where to export own metrics, once offered.
	telemetry *destination
}

// destination is an own-telemetry destination the server offered.
type destination struct {
	endpoint string
	header   http.Header
}

func newAgent(f *Fleet, id Identity) *agent {
	u := uuid.MustParse(id.InstanceUID) // checked when the identity was read or enrolled
	return &agent{
		f: f, index: id.Index, id: id, uid: types.InstanceUid(u),
		fails: failsAt(id.Index, f.o.FailShare),
		delay: time.Duration(float64(f.o.ApplyDelay) * spread(id.Index)),
	}
}

// failsAt reports whether agent i is one of the share that fail: exactly
// round-down(n × share) of any first n agents, spread evenly.
func failsAt(i int, share float64) bool {
	return int(float64(i+1)*share) > int(float64(i)*share)
}

// spread places agent i in [0, 1): the fractional parts of multiples of
// the golden ratio, evenly spread for any number of agents.
func spread(i int) float64 {
	const phi = 0.6180339887498949
	x := float64(i+1) * phi
	return x - float64(int64(x))
}

func (a *agent) hostName() string { return a.f.o.HostPrefix + "-" + strconv.Itoa(a.index) }

// description is what the supervisor reports for its collector: identity
// attributes and the host's, plus the fleet's labels.
func (a *agent) description() *protobufs.AgentDescription {
	o := a.f.o
	ident := []*protobufs.KeyValue{
		kv("service.name", ServiceName),
		kv("service.version", o.ServiceVersion),
		kv("service.instance.id", a.id.InstanceUID),
	}
	nonIdent := []*protobufs.KeyValue{
		kv("host.name", a.hostName()),
		kv("os.type", runtime.GOOS),
		kv("os.description", "phoenix loadsim agents"),
		kv("host.arch", runtime.GOARCH),
		kv(FleetLabel, o.Fleet),
	}
	for _, k := range a.f.labelKeys {
		nonIdent = append(nonIdent, kv(k, o.Labels[k]))
	}
	return &protobufs.AgentDescription{IdentifyingAttributes: ident, NonIdentifyingAttributes: nonIdent}
}

func kv(k, v string) *protobufs.KeyValue {
	return &protobufs.KeyValue{Key: k, Value: &protobufs.AnyValue{Value: &protobufs.AnyValue_StringValue{StringValue: v}}}
}

// start creates the agent's OpAMP client and starts it: it connects (and
// reconnects) in the background.
func (a *agent) start(ctx context.Context) error {
	o := a.f.o
	var c client.OpAMPClient
	if o.Transport == HTTP {
		c = client.NewHTTP(a)
	} else {
		c = client.NewWebSocket(a)
	}
	now := a.f.now()
	if err := c.SetHealth(health(true, now, "")); err != nil { // before the capability to report it
		return err
	}
	if err := c.SetAgentDescription(a.description()); err != nil {
		return err
	}
	caps := capabilities
	if err := c.SetCapabilities(&caps); err != nil {
		return err
	}
	heartbeat := o.Heartbeat
	a.mu.Lock()
	a.startedAt = now
	a.client = c
	if a.id.OwnMetrics != nil { // offered on an earlier run
		a.telemetry = a.f.destination(a.id.OwnMetrics)
	}
	a.mu.Unlock()
	err := c.Start(ctx, types.StartSettings{
		OpAMPServerURL:    o.OpAMP,
		Header:            http.Header{"Authorization": {"Bearer " + a.id.Token}},
		InstanceUid:       a.uid,
		HeartbeatInterval: &heartbeat,
		Callbacks: types.Callbacks{
			OnConnect:       func(context.Context) { a.setConnected(true) },
			OnConnectFailed: func(context.Context, error) { a.setConnected(false) },
			OnError: func(_ context.Context, e *protobufs.ServerErrorResponse) {
				a.f.countError(serverErrorKind(e), e.GetErrorMessage())
			},
			OnMessage:          a.onMessage,
			GetEffectiveConfig: a.effectiveConfig,
		},
	})
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.started = true
	a.mu.Unlock()
	return nil
}

// stop disconnects the agent (a WebSocket agent says goodbye with
// AgentDisconnect) within ctx.
func (a *agent) stop(ctx context.Context) error {
	a.mu.Lock()
	started, c := a.started && !a.stopped, a.client
	a.stopped = true
	a.mu.Unlock()
	if !started {
		return nil
	}
	err := c.Stop(ctx)
	a.setConnected(false)
	return err
}

func health(healthy bool, start time.Time, lastError string) *protobufs.ComponentHealth {
	status := "StatusOK"
	if !healthy {
		status = "StatusPermanentError"
	}
	return &protobufs.ComponentHealth{Healthy: healthy, StartTimeUnixNano: uint64(start.UnixNano()), Status: status, LastError: lastError}
}

func (a *agent) setConnected(up bool) {
	a.mu.Lock()
	changed := a.connected != up && (!up || !a.stopped)
	first := up && !a.everConnected && !a.stopped
	if changed {
		a.connected = up
	}
	if first {
		a.everConnected = true
	}
	if up {
		a.refused = false
	}
	a.mu.Unlock()
	if changed {
		a.f.connectedChanged(up)
	}
	if first {
		a.f.firstConnect()
	}
}

// onMessage handles what the server sends: a remote configuration, an
// own-telemetry destination.
func (a *agent) onMessage(_ context.Context, msg *types.MessageData) {
	if msg.OwnMetricsConnSettings != nil {
		a.offerOwnMetrics(msg.OwnMetricsConnSettings)
	}
	if msg.RemoteConfig != nil {
		a.receiveConfig(msg.RemoteConfig)
	}
}

// receiveConfig acts as the supervisor does on a remote configuration:
// the one it runs already is APPLIED at once, without a restart; any other
// is APPLYING, then, after the apply delay, APPLIED or FAILED.
func (a *agent) receiveConfig(rc *protobufs.AgentRemoteConfig) {
	hash := rc.GetConfigHash()
	a.mu.Lock()
	if a.stopped || (bytes.Equal(hash, a.latestHash) && a.latest == outcomeApplying) {
		a.mu.Unlock() // a copy of what is being applied
		return
	}
	if a.running != nil && bytes.Equal(hash, a.runningHash) {
		a.setLatest(hash, outcomeApplied)
		a.pending, a.wave = nil, nil
		a.gen++
		a.mu.Unlock()
		a.report(protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED, hash, "")
		return
	}
	now := a.f.now()
	a.wave = a.f.received(now)
	a.pending = rc.GetConfig()
	a.setLatest(hash, outcomeApplying)
	a.gen++
	gen := a.gen
	a.mu.Unlock()

	a.report(protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLYING, hash, "")
	if a.delay <= 0 {
		a.finishApply(gen)
		return
	}
	time.AfterFunc(a.delay, func() { a.finishApply(gen) })
}

// setLatest moves the agent's standing with its latest configuration and
// the fleet's counts with it; a.mu is held.
func (a *agent) setLatest(hash []byte, to outcome) {
	a.f.outcomeChanged(a.latest, to)
	a.latestHash, a.latest = hash, to
}

// finishApply ends the apply of configuration gen, unless a newer one
// superseded it. A failing agent reports FAILED with the collector's
// error. It fails every configuration, so it never ran one to roll back
// to: its collector is down (unhealthy, no own telemetry), as the
// supervisor's is after a bad first configuration.
func (a *agent) finishApply(gen uint64) {
	a.mu.Lock()
	if a.stopped || a.gen != gen {
		a.mu.Unlock()
		return
	}
	hash, w, now := a.latestHash, a.wave, a.f.now()
	if a.fails {
		a.setLatest(hash, outcomeFailed)
		a.pending = nil
		a.mu.Unlock()
		w.done(false)
		msg := fmt.Sprintf("simulated failure (loadsim agent %d, fail share %g): collector exited with status 1: "+
			"cannot start pipelines: failed to build pipelines: unknown component %q", a.index, a.f.o.FailShare, "loadsim/failure")
		a.report(protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED, hash, msg)
		a.setHealth(health(false, now, msg))
		return
	}
	a.meters = a.f.meters.variants(hash, a.pending)
	a.running, a.runningHash, a.pending, a.startedAt = a.pending, hash, nil, now
	a.setLatest(hash, outcomeApplied)
	c := a.client
	a.mu.Unlock()
	w.done(true)
	if err := c.UpdateEffectiveConfig(context.Background()); err != nil {
		a.f.countError(ErrClient, err.Error())
	}
	a.setHealth(health(true, now, ""))
	a.report(protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED, hash, "")
}

func (a *agent) report(status protobufs.RemoteConfigStatuses, hash []byte, msg string) {
	a.mu.Lock()
	c, stopped := a.client, a.stopped
	a.mu.Unlock()
	if stopped {
		return
	}
	if err := c.SetRemoteConfigStatus(&protobufs.RemoteConfigStatus{LastRemoteConfigHash: hash, Status: status, ErrorMessage: msg}); err != nil {
		a.f.countError(ErrClient, err.Error())
	}
}

func (a *agent) setHealth(h *protobufs.ComponentHealth) {
	a.mu.Lock()
	c, stopped := a.client, a.stopped
	a.mu.Unlock()
	if stopped {
		return
	}
	if err := c.SetHealth(h); err != nil {
		a.f.countError(ErrClient, err.Error())
	}
}

// effectiveConfig is the configuration the collector runs, as applied: the
// client asks for it on connecting, after an apply and when the server
// wants the full state.
func (a *agent) effectiveConfig(context.Context) (*protobufs.EffectiveConfig, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.running == nil {
		return nil, nil
	}
	return &protobufs.EffectiveConfig{ConfigMap: a.running}, nil
}

// offerOwnMetrics keeps the server's own-telemetry destination, with the
// identity (as the supervisor persists it); the supervisor restarts the
// collector to export there.
func (a *agent) offerOwnMetrics(s *protobufs.TelemetryConnectionSettings) {
	if s.GetDestinationEndpoint() == "" {
		return
	}
	offer := &OwnMetrics{Endpoint: s.GetDestinationEndpoint()}
	for _, h := range s.GetHeaders().GetHeaders() {
		if offer.Headers == nil {
			offer.Headers = map[string]string{}
		}
		offer.Headers[h.GetKey()] = h.GetValue()
	}
	a.mu.Lock()
	a.telemetry = a.f.destination(offer)
	a.startedAt = a.f.now()
	changed := !offer.equal(a.id.OwnMetrics)
	if changed {
		a.id.OwnMetrics = offer
	}
	id := a.id
	a.mu.Unlock()
	if changed {
		if err := a.f.ids.add(id); err != nil {
			a.f.countError(ErrClient, err.Error())
		}
	}
}

// Debugf implements the opamp-go client's logger: nothing.
func (a *agent) Debugf(context.Context, string, ...any) {}

// Errorf implements the opamp-go client's logger: what the client reports
// as errors is counted by kind. The client tells a refused connection only
// here (a WebSocket handshake's or a poll's HTTP status). What it reports
// while stopping is the stop's doing, not counted.
func (a *agent) Errorf(_ context.Context, format string, v ...any) {
	a.mu.Lock()
	stopped := a.stopped
	a.mu.Unlock()
	if stopped {
		return // a poll or send cut short by Stop
	}
	msg := fmt.Sprintf(format, v...)
	kind := ErrClient
	switch {
	case strings.HasPrefix(msg, "Server responded with status="): // WebSocket handshake
		kind = ErrRefused + " " + statusCode(strings.TrimPrefix(msg, "Server responded with status="))
		a.mu.Lock()
		a.refused = true
		a.mu.Unlock()
	case strings.HasPrefix(msg, "Connection failed ("): // follows the above, or a dial error
		a.mu.Lock()
		refused := a.refused
		a.refused = false
		a.mu.Unlock()
		if refused {
			return
		}
		kind = ErrConnect
	case strings.HasPrefix(msg, "invalid response from server: "): // a poll refused
		kind = ErrRefused + " " + statusCode(strings.TrimPrefix(msg, "invalid response from server: "))
		a.setConnected(false)
	case strings.HasPrefix(msg, "Failed to do HTTP request ("):
		kind = ErrConnect
		if i := strings.Index(msg, "server response code="); i >= 0 {
			kind = ErrRefused + " " + statusCode(msg[i+len("server response code="):])
		}
	case strings.HasPrefix(msg, "Unexpected error while receiving"):
		kind = ErrConnectionLost
		a.setConnected(false)
	case strings.Contains(msg, "Cannot write WS message"), strings.HasPrefix(msg, "Failed to send message"):
		kind = ErrSend
	}
	a.f.countError(kind, msg)
}

// statusCode is the leading HTTP status code of s ("401 Unauthorized").
func statusCode(s string) string {
	end := 0
	for end < len(s) && end < 3 && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	if end == 0 {
		return "?"
	}
	return s[:end]
}

func serverErrorKind(e *protobufs.ServerErrorResponse) string {
	t := strings.TrimPrefix(e.GetType().String(), "ServerErrorResponseType_")
	return ErrServer + " " + t
}

func hexHash(h []byte) string { return hex.EncodeToString(h) }
