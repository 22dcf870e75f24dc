// Package fleetsim simulates a fleet of agents in one process: thousands of
// OpAMP clients (opamp-go's, WebSocket or plain HTTP) that behave towards a
// Phoenix control plane as the upstream supervisor with its collector does.
// Each enrolls for an identity of its own (or reuses one from an identities
// file), describes itself, applies the configurations pushed to it
// (APPLYING, then APPLIED, or FAILED for a chosen share), reports the
// effective configuration and health, and exports its own metrics to the
// destination the server offers.
//
// `phoenix loadsim agents` runs a fleet from the command line; tests and
// benchmarks use Start, the Wait methods and Stop (or Run) directly.
package fleetsim // import "github.com/phoenix/platform/cli/fleetsim"

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/phoenix/platform/opamp-server/apiclient"
)

// stopConcurrency bounds the agents disconnecting at once. Stopping is
// waiting: a WebSocket agent sends its goodbye and waits (opamp-go: up to
// 5 s) for the server to close, and a server busy with thousands of agents
// answers slowly; so agents stop in few rounds, not one by one.
const stopConcurrency = 10_000

// DefaultStopTimeout is how long Run gives the agents to disconnect.
const DefaultStopTimeout = 15 * time.Second

// Fleet is a running simulated fleet. Its methods are safe for concurrent
// use.
type Fleet struct {
	o         Options
	ids       *identities
	api       *apiclient.Client
	labelKeys []string
	agents    []atomic.Pointer[agent] // by index; nil until launched
	begun     time.Time
	baseline  Memory
	waveGap   time.Duration

	ctx      context.Context // the ramp's and telemetry's life; ended by Stop or a fatal error
	cancel   context.CancelCauseFunc
	rampDone chan struct{}
	bgDone   sync.WaitGroup // ramp and telemetry
	failed   chan struct{}  // closed on a fatal error
	failOnce sync.Once
	errMu    sync.Mutex
	err      error

	enrolled, reused, started, connected, everConnected atomic.Int64
	configs, applying, applied, failedN, exports        atomic.Int64
	rampedAt, allConnectedAt                            atomic.Int64 // nanoseconds after begun; 0: not yet
	errors                                              errorCounts

	wavesMu sync.Mutex
	waves   []*wave

	internMu sync.Mutex
	interned map[string]string

	stopOnce sync.Once
	summary  Summary
}

// Start validates o and starts the fleet: agents start in the background,
// Rate a second, enrolling first when they have no identity. The fleet
// runs until Stop; ctx ending stops the ramp (no further agent starts),
// not the agents already running.
func Start(ctx context.Context, o Options) (*Fleet, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	ids, err := loadIdentities(o.Identities, o.Server)
	if err != nil {
		return nil, err
	}
	if missing := o.Count - ids.known(o.Count); missing > 0 && o.EnrollToken == "" {
		_ = ids.close()
		return nil, fmt.Errorf("%w: %d of the %d agents have no identity yet", ErrEnrollTokenNeeded, missing, o.Count)
	}
	f := &Fleet{
		o: o, ids: ids, api: apiclient.New(o.Server, o.EnrollToken),
		labelKeys: slices.Sorted(maps.Keys(o.Labels)),
		agents:    make([]atomic.Pointer[agent], o.Count),
		begun:     time.Now(),
		baseline:  readMemory(),
		waveGap:   5 * time.Second,
		rampDone:  make(chan struct{}),
		failed:    make(chan struct{}),
		interned:  map[string]string{},
	}
	if o.Transport == HTTP {
		f.waveGap += o.Heartbeat
	}
	f.ctx, f.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	rampCtx, rampCancel := context.WithCancel(f.ctx)
	stopRamp := context.AfterFunc(ctx, rampCancel)
	f.bgDone.Add(1)
	go func() {
		defer f.bgDone.Done()
		defer rampCancel()
		defer stopRamp()
		f.ramp(rampCtx)
	}()
	if o.TelemetryInterval > 0 {
		t := newTelemetry(f)
		f.bgDone.Add(1)
		go func() { defer f.bgDone.Done(); t.run(f.ctx) }()
	}
	return f, nil
}

// Run starts a fleet, keeps it until ctx ends (or a fatal error, such as a
// refused enrollment token, ends it), stops it within DefaultStopTimeout
// and returns its summary.
func Run(ctx context.Context, o Options) (Summary, error) {
	f, err := Start(ctx, o)
	if err != nil {
		return Summary{}, err
	}
	select {
	case <-ctx.Done():
	case <-f.Failed():
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultStopTimeout)
	defer cancel()
	return f.Stop(stopCtx)
}

// ramp starts agents 0 to Count-1, Rate a second, enrolling (at most
// EnrollConcurrency at once) those without an identity.
func (f *Fleet) ramp(ctx context.Context) {
	defer close(f.rampDone)
	sem := make(chan struct{}, f.o.EnrollConcurrency)
	var enrolling sync.WaitGroup
	every := time.Duration(float64(time.Second) / f.o.Rate)
	timer := time.NewTimer(0)
	defer timer.Stop()
	next := time.Now()
	for i := range f.o.Count {
		if wait := time.Until(next); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		} else if wait < -time.Second {
			next = time.Now() // fell behind (enrollment is slower): no burst to catch up
		}
		next = next.Add(every)
		if ctx.Err() != nil {
			break
		}
		if id, ok := f.ids.get(i); ok {
			f.reused.Add(1)
			f.enrolled.Add(1)
			f.launch(ctx, id)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		enrolling.Add(1)
		go func() {
			defer func() { <-sem; enrolling.Done() }()
			f.enrollAndLaunch(ctx, i)
		}()
	}
	enrolling.Wait()
	if ctx.Err() == nil {
		f.rampedAt.Store(int64(max(time.Since(f.begun), 1)))
	}
}

func (f *Fleet) enrollAndLaunch(ctx context.Context, i int) {
	id, err := enroll(ctx, f.api, f.o.Server, i, f.o.HostPrefix+"-"+fmt.Sprint(i))
	var answer *apiclient.Error
	switch {
	case errors.Is(err, ErrEnrollRefused):
		f.fail(err)
		return
	case err != nil && ctx.Err() == nil && !errors.As(err, &answer) && f.enrolled.Load() == f.reused.Load():
		// Not one enrollment has worked, and the server does not answer: a
		// wrong --server, or a server that is down. Retrying thousands
		// of agents would only hide it.
		f.fail(fmt.Errorf("the server cannot be reached to enroll agents: %w", err))
		return
	case err != nil:
		if ctx.Err() == nil {
			f.countError(ErrEnroll, err.Error())
		}
		return
	}
	if err := f.ids.add(id); err != nil {
		f.fail(err)
		return
	}
	f.enrolled.Add(1)
	f.launch(ctx, id)
}

// launch starts agent id; Stop finds every agent launched once the ramp
// has ended.
func (f *Fleet) launch(ctx context.Context, id Identity) {
	if ctx.Err() != nil {
		return
	}
	a := newAgent(f, id)
	f.agents[id.Index].Store(a)
	if err := a.start(ctx); err != nil {
		f.countError(ErrClient, "starting the OpAMP client: "+err.Error())
		return
	}
	f.started.Add(1)
}

// fail ends the fleet's ramp and telemetry with a fatal error.
func (f *Fleet) fail(err error) {
	f.failOnce.Do(func() {
		f.errMu.Lock()
		f.err = err
		f.errMu.Unlock()
		f.cancel(err)
		close(f.failed)
	})
}

// Err is the error that ended the fleet early, nil if none did.
func (f *Fleet) Err() error {
	f.errMu.Lock()
	defer f.errMu.Unlock()
	return f.err
}

// Failed is closed when a fatal error (Err) ended the ramp: no further
// agent starts; those running keep running until Stop.
func (f *Fleet) Failed() <-chan struct{} { return f.failed }

// Ramped is closed once every agent has started, or the ramp ended early.
func (f *Fleet) Ramped() <-chan struct{} { return f.rampDone }

// Options are the fleet's options, with their defaults filled in.
func (f *Fleet) Options() Options { return f.o }

// Stats are the fleet's counts now.
func (f *Fleet) Stats() Stats {
	s := Stats{
		Agents:           f.o.Count,
		Enrolled:         int(f.enrolled.Load()),
		Reused:           int(f.reused.Load()),
		Started:          int(f.started.Load()),
		Connected:        int(f.connected.Load()),
		EverConnected:    int(f.everConnected.Load()),
		ConfigsReceived:  int(f.configs.Load()),
		Applying:         int(f.applying.Load()),
		Applied:          int(f.applied.Load()),
		Failed:           int(f.failedN.Load()),
		TelemetryExports: int(f.exports.Load()),
		Errors:           f.errors.snapshot(),
		ErrorExamples:    f.errors.examples(),
		Elapsed:          time.Since(f.begun),
		Ramped:           time.Duration(f.rampedAt.Load()),
		AllConnected:     time.Duration(f.allConnectedAt.Load()),
	}
	return s
}

// Waves are the configuration pushes the fleet has seen so far.
func (f *Fleet) Waves() []Wave {
	f.wavesMu.Lock()
	ws := slices.Clone(f.waves)
	f.wavesMu.Unlock()
	out := make([]Wave, len(ws))
	for i, w := range ws {
		out[i] = w.summary()
	}
	return out
}

// AgentStatus is one simulated agent as the fleet knows it.
type AgentStatus struct {
	Index       int    `json:"index"`
	InstanceUID string `json:"instance_uid"`
	HostName    string `json:"host_name"`
	Connected   bool   `json:"connected"`
	// ConfigHash is the hex hash of the latest configuration received and
	// Status where the agent stands with it: "", APPLYING, APPLIED, FAILED.
	ConfigHash string `json:"config_hash,omitempty"`
	Status     string `json:"status,omitempty"`
	// RunningHash is the configuration the collector runs.
	RunningHash string `json:"running_hash,omitempty"`
	// Telemetry reports that the server offered an own-telemetry
	// destination.
	Telemetry bool `json:"telemetry"`
}

// Agents lists the agents launched so far, by index.
func (f *Fleet) Agents() []AgentStatus {
	var out []AgentStatus
	for i := range f.agents {
		if a := f.agents[i].Load(); a != nil {
			out = append(out, a.status())
		}
	}
	return out
}

func (a *agent) status() AgentStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AgentStatus{
		Index: a.index, InstanceUID: a.id.InstanceUID, HostName: a.hostName(), Connected: a.connected,
		ConfigHash: hexHash(a.latestHash), Status: outcomeNames[a.latest], RunningHash: hexHash(a.runningHash),
		Telemetry: a.telemetry != nil,
	}
}

var outcomeNames = [...]string{outcomeNone: "", outcomeApplying: "APPLYING", outcomeApplied: "APPLIED", outcomeFailed: "FAILED"}

// pollEvery is how often the Wait methods look.
const pollEvery = 50 * time.Millisecond

// waitFor polls cond until it holds, ctx ends (its error, with what was
// last seen) or the fleet fails.
func (f *Fleet) waitFor(ctx context.Context, cond func() (bool, string)) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; %s", context.Cause(ctx), seen)
		case <-f.failed:
			return f.Err()
		case <-tick.C:
		}
	}
}

// WaitConnected waits until n agents are connected at once.
func (f *Fleet) WaitConnected(ctx context.Context, n int) error {
	return f.waitFor(ctx, func() (bool, string) {
		c := int(f.connected.Load())
		return c >= n, fmt.Sprintf("%d of %d agents connected", c, n)
	})
}

// WaitApplied waits until n agents run the configuration hash (hex) and
// reported it APPLIED; with hash "", until n agents have applied the
// latest configuration they received, whatever it is.
func (f *Fleet) WaitApplied(ctx context.Context, hash string, n int) error {
	return f.waitFor(ctx, func() (bool, string) {
		k := 0
		for i := range f.agents {
			a := f.agents[i].Load()
			if a == nil {
				continue
			}
			a.mu.Lock()
			if a.latest == outcomeApplied && (hash == "" || hexHash(a.latestHash) == hash) {
				k++
			}
			a.mu.Unlock()
		}
		return k >= n, fmt.Sprintf("%d of %d agents applied", k, n)
	})
}

// Outcomes count agents by what they reported on the configurations they
// were expected to receive.
type Outcomes struct {
	Applied, Failed int
	// Pending counts agents yet to report APPLIED or FAILED on theirs
	// (including agents the fleet does not have).
	Pending int
}

// WaitOutcomes waits until every agent in want (instance UID → hex config
// hash, as an assignment's results give them) has reported APPLIED or
// FAILED on its configuration, and counts them.
func (f *Fleet) WaitOutcomes(ctx context.Context, want map[string]string) (Outcomes, error) {
	var out Outcomes
	err := f.waitFor(ctx, func() (bool, string) {
		out = Outcomes{Pending: len(want)}
		for i := range f.agents {
			a := f.agents[i].Load()
			if a == nil {
				continue
			}
			hash, ok := want[a.id.InstanceUID]
			if !ok {
				continue
			}
			a.mu.Lock()
			if hexHash(a.latestHash) == hash {
				switch a.latest {
				case outcomeApplied:
					out.Applied++
					out.Pending--
				case outcomeFailed:
					out.Failed++
					out.Pending--
				}
			}
			a.mu.Unlock()
		}
		return out.Pending == 0, fmt.Sprintf("%d applied, %d failed, %d pending", out.Applied, out.Failed, out.Pending)
	})
	return out, err
}

// Stop ends the ramp and own telemetry, measures the process's memory,
// disconnects every agent (a WebSocket agent says goodbye with
// AgentDisconnect; a polling one just stops), up to 10,000 at once, within
// ctx, and returns the run's summary and the fleet's fatal error, if any.
// Agents still connected when ctx ends are counted as ErrStop. Calling Stop
// again returns the same.
func (f *Fleet) Stop(ctx context.Context) (Summary, error) {
	f.stopOnce.Do(func() { f.summary = f.stop(ctx) })
	return f.summary, f.Err()
}

func (f *Fleet) stop(ctx context.Context) Summary {
	f.cancel(errors.New("fleet stopped"))
	f.bgDone.Wait()
	s := Summary{
		Fleet: f.o.Fleet, Transport: f.o.Transport, OpAMP: f.o.OpAMP, Identities: f.o.Identities, TelemetryInterval: f.o.TelemetryInterval,
		Stats: f.Stats(), Waves: f.Waves(), Memory: f.memory(),
	}

	begin := time.Now()
	var stopped atomic.Int64
	sem := make(chan struct{}, stopConcurrency)
	var wg sync.WaitGroup
	for i := range f.agents {
		a := f.agents[i].Load()
		if a == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := a.stop(ctx); err != nil {
				f.countError(ErrStop, fmt.Sprintf("agent %d (%s): %v", a.index, a.id.InstanceUID, err))
				return
			}
			stopped.Add(1)
		}()
	}
	wg.Wait()
	s.StopTime = time.Since(begin)
	s.Stopped = int(stopped.Load())
	s.Errors, s.ErrorExamples = f.errors.snapshot(), f.errors.examples()
	if err := f.ids.close(); err != nil {
		f.fail(err)
	}
	return s
}

// memory measures the process with the fleet running.
func (f *Fleet) memory() Memory {
	runtime.GC() // the heap figure is then what the agents hold
	m := readMemory()
	m.BaselineRSS = f.baseline.RSS
	m.Agents = int(f.started.Load())
	if m.Agents > 0 && m.RSS > m.BaselineRSS {
		m.PerAgent = (m.RSS - m.BaselineRSS) / uint64(m.Agents)
	}
	return m
}

func (f *Fleet) now() time.Time { return time.Now() }

func (f *Fleet) countError(kind, detail string) { f.errors.add(kind, detail) }

func (f *Fleet) connectedChanged(up bool) {
	if up {
		f.connected.Add(1)
	} else {
		f.connected.Add(-1)
	}
}

func (f *Fleet) firstConnect() {
	if int(f.everConnected.Add(1)) == f.o.Count {
		f.allConnectedAt.CompareAndSwap(0, int64(max(time.Since(f.begun), 1)))
	}
}

func (f *Fleet) outcomeChanged(from, to outcome) {
	for _, c := range []struct {
		o outcome
		d int64
	}{{from, -1}, {to, 1}} {
		switch c.o {
		case outcomeApplying:
			f.applying.Add(c.d)
		case outcomeApplied:
			f.applied.Add(c.d)
		case outcomeFailed:
			f.failedN.Add(c.d)
		}
	}
}

// received records a configuration arriving now, in the current push wave
// or a new one, and returns the wave.
func (f *Fleet) received(now time.Time) *wave {
	f.configs.Add(1)
	f.wavesMu.Lock()
	defer f.wavesMu.Unlock()
	var w *wave
	if n := len(f.waves); n > 0 {
		last := f.waves[n-1]
		last.mu.Lock()
		if now.Sub(last.last) <= f.waveGap {
			w = last
		}
		last.mu.Unlock()
	}
	if w == nil {
		w = &wave{start: now}
		f.waves = append(f.waves, w)
		if len(f.waves) > maxWaves {
			f.waves = slices.Delete(f.waves, 0, len(f.waves)-maxWaves)
		}
	}
	w.mu.Lock()
	if now.After(w.last) {
		w.last = now
	}
	w.received = append(w.received, max(now.Sub(w.start), 0))
	w.mu.Unlock()
	return w
}

// destination is where an agent exports its own metrics to.
func (f *Fleet) destination(m *OwnMetrics) *destination {
	d := &destination{endpoint: f.intern(m.Endpoint), header: make(http.Header, len(m.Headers))}
	for k, v := range m.Headers {
		d.header.Set(k, v)
	}
	return d
}

// intern returns one copy of s for all agents (the own-telemetry
// endpoint, the same for every agent).
func (f *Fleet) intern(s string) string {
	f.internMu.Lock()
	defer f.internMu.Unlock()
	if v, ok := f.interned[s]; ok {
		return v
	}
	if len(f.interned) < 64 {
		f.interned[s] = s
	}
	return s
}
