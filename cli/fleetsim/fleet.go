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

	meters costMeters

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
