package assignment

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/wavegate"
)

// Gate timeouts of a progressive assignment.
const (
	DefaultGateTimeout = 5 * time.Minute
	// MinGateTimeout leaves an agent time to restart its collector and
	// send a minute of own telemetry.
	MinGateTimeout = 30 * time.Second
	// MaxGateTimeout: a wave holds the rollout, and the fleet half-changed.
	MaxGateTimeout = time.Hour
)

// ValidateWaveOptions checks a progressive assignment's options; an error
// wraps ErrRequest and starts with the field it is about.
func ValidateWaveOptions(o apitypes.WaveOptions) error {
	if len(o.Waves) == 0 {
		if o.GateTimeout != 0 {
			return fmt.Errorf("%w: gate_timeout: only with waves", ErrRequest)
		}
		return nil
	}
	if err := wavegate.ValidateWaves(o.Waves); err != nil {
		return fmt.Errorf("%w: %w", ErrRequest, err)
	}
	if err := wavegate.ValidateGateTimeout(o.GateTimeout.D(), MinGateTimeout, MaxGateTimeout); err != nil {
		return fmt.Errorf("%w: %w", ErrRequest, err)
	}
	return nil
}

// rolloutDoc is what the store keeps of a progressive assignment: what the
// API shows, and what each wave renders from.
type rolloutDoc struct {
	apitypes.AssignmentRollout
	// Config is the configuration given verbatim, if any.
	Config string `json:"config,omitempty"`
	// HostAccess is the caller's grant: later waves render as it could.
	HostAccess bool `json:"host_access,omitempty"`
}

func (d *rolloutDoc) request() apitypes.AssignRequest {
	return apitypes.AssignRequest{Pipeline: d.Pipeline, Parameters: d.Parameters, Config: d.Config, Reason: d.AssignmentReason}
}

// Rollouts assigns configurations progressively: wave by wave, each gated
// (package wavegate) before the next goes out. Its state lives in the
// store, so any replica steps it, and a restart resumes it.
type Rollouts struct {
	svc *Service
	now func() time.Time
	log *slog.Logger
	// mu keeps this replica's steps of one rollout from overlapping: the
	// scanner's and a Start's first.
	mu sync.Mutex
}

// NewRollouts returns the progressive assignments of svc; now defaults to
// time.Now.
func NewRollouts(svc *Service, now func() time.Time) *Rollouts {
	if now == nil {
		now = time.Now
	}
	return &Rollouts{svc: svc, now: now, log: svc.log}
}

// Start assigns req progressively: every matching agent's configuration
// renders (and is allowed by grants) before anything is stored, the waves
// are planned over the agents in instance UID order, and the first wave is
// assigned before Start returns; the scanner (Run) does the rest.
func (r *Rollouts) Start(ctx context.Context, req apitypes.BulkAssignRequest, grants Grants, by string) (apitypes.AssignmentRollout, error) {
	if len(req.Waves) == 0 {
		return apitypes.AssignmentRollout{}, fmt.Errorf("%w: waves: give at least one, the last 100 (for example 1,10,50,100)", ErrRequest)
	}
	if err := ValidateWaveOptions(req.WaveOptions); err != nil {
		return apitypes.AssignmentRollout{}, err
	}
	agents, _, err := r.svc.renderMatching(ctx, req.Selector, req.AssignRequest, grants)
	if err != nil {
		return apitypes.AssignmentRollout{}, err
	}
	timeout := req.GateTimeout
	if timeout == 0 {
		timeout = apitypes.Duration(DefaultGateTimeout)
	}
	now := r.now().UTC()
	doc := rolloutDoc{AssignmentRollout: apitypes.AssignmentRollout{ID: newRolloutID(now), Selector: req.Selector,
		Pipeline: req.Pipeline, Parameters: req.Parameters, AssignmentReason: req.Reason, CreatedBy: by,
		Rollout: apitypes.Rollout{State: apitypes.RolloutRolling, GateTimeout: timeout, StartedAt: now,
			Waves: wavegate.Plan(req.Waves, len(agents))}},
		Config: req.Config, HostAccess: grants.HostAccess}
	next := 0
	for i := range doc.Waves {
		for _, a := range agents[next : next+doc.Waves[i].Size] {
			doc.Waves[i].Agents = append(doc.Waves[i].Agents, apitypes.RolloutAgent{InstanceUID: a.InstanceUID, Host: a.Description.HostName})
		}
		next += doc.Waves[i].Size
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return apitypes.AssignmentRollout{}, err
	}
	if _, err := r.svc.set.Store.CreateRollout(ctx, store.Rollout{ID: doc.ID, Active: true, Doc: raw, CreatedAt: now}); err != nil {
		return apitypes.AssignmentRollout{}, err
	}
	r.log.Info("progressive assignment started", "rollout", doc.ID, "selector", doc.Selector, "agents", len(agents), "waves", len(doc.Waves))
	// The first wave goes out now; if that fails, the scanner retries.
	if err := r.Step(context.WithoutCancel(ctx), doc.ID); err != nil {
		r.log.Warn("starting a rollout's first wave failed; the scanner retries", "rollout", doc.ID, "error", err)
	}
	return r.Get(ctx, doc.ID)
}

// newRolloutID names a rollout: its start time sorts, the random part
// keeps replicas apart.
func newRolloutID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "ro-" + now.Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

// Get returns one progressive assignment; store.ErrNotFound when unknown.
func (r *Rollouts) Get(ctx context.Context, id string) (apitypes.AssignmentRollout, error) {
	_, doc, err := r.load(ctx, id)
	return doc.AssignmentRollout, err
}

// List returns the newest progressive assignments, the active ones only
// when asked.
func (r *Rollouts) List(ctx context.Context, active bool, limit int) ([]apitypes.AssignmentRollout, error) {
	recs, err := r.svc.set.Store.ListRollouts(ctx, store.RolloutFilter{Active: active, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]apitypes.AssignmentRollout, 0, len(recs))
	for _, rec := range recs {
		doc, err := decodeRollout(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, doc.AssignmentRollout)
	}
	return out, nil
}

// Halt stops a rollout in progress as a failed gate would: the wave in
// progress goes back to its previous assignments; earlier waves keep the
// new configuration. A rollout already finished is ErrRollout.
func (r *Rollouts) Halt(ctx context.Context, id, by string) (apitypes.AssignmentRollout, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec, doc, err := r.load(ctx, id)
	if err != nil {
		return doc.AssignmentRollout, err
	}
	if !doc.State.Active() {
		return doc.AssignmentRollout, fmt.Errorf("%w: rollout %s is %s", ErrRollout, id, doc.State)
	}
	i := doc.Current()
	if i == len(doc.Waves) {
		return doc.AssignmentRollout, fmt.Errorf("%w: every wave of rollout %s passed its gate", ErrRollout, id)
	}
	if doc.State == apitypes.RolloutRolling {
		w := &doc.Waves[i]
		wavegate.Count(w)
		w.State, w.FinishedAt, w.Reason = apitypes.WaveFailed, r.now().UTC(), "halted by "+by
		doc.State, doc.Reason = apitypes.RolloutHalting, wavegate.WaveName(&doc.Rollout, i)+" halted by "+by
	}
	s := &stepper{r: r, rec: rec, doc: &doc}
	if err := s.save(ctx); err != nil {
		return doc.AssignmentRollout, err
	}
	if err := s.restore(ctx); err != nil {
		return doc.AssignmentRollout, err
	}
	return r.Get(ctx, id)
}

// ErrRollout: the rollout cannot do that in its state (halt a finished one).
var ErrRollout = errors.New("rollout state")

func (r *Rollouts) load(ctx context.Context, id string) (store.Rollout, rolloutDoc, error) {
	rec, err := r.svc.set.Store.GetRollout(ctx, id)
	if err != nil {
		return rec, rolloutDoc{}, err
	}
	doc, err := decodeRollout(rec)
	return rec, doc, err
}

func decodeRollout(rec store.Rollout) (rolloutDoc, error) {
	var doc rolloutDoc
	if err := json.Unmarshal(rec.Doc, &doc); err != nil {
		return doc, fmt.Errorf("rollout %s: %w", rec.ID, err)
	}
	return doc, nil
}
