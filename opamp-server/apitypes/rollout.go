package apitypes

import "time"

// PromoteRequest is the optional body of POST /experiments/{id}/promote.
type PromoteRequest struct {
	// Waves are cumulative percentages of the targets, increasing, the
	// last 100: [1, 10, 50, 100] by default; [100] promotes all at once.
	Waves []float64 `json:"waves,omitempty"`
	// GateTimeout bounds how long each wave may take to pass its gate
	// (default 5m, at most 1h).
	GateTimeout Duration `json:"gate_timeout,omitempty"`
	// Candidate names the candidate to promote. Required when the
	// experiment compared several (spec.candidates); for a single
	// candidate it may be left out or be "candidate".
	Candidate string `json:"candidate,omitempty"`
}

// RolloutState is where a progressive promotion is.
type RolloutState string

// Rollout states. Rolling and halting are the ones the controller steps.
const (
	RolloutRolling    RolloutState = "rolling"     // waves go out one by one
	RolloutHalting    RolloutState = "halting"     // a gate failed; its wave is being rolled back
	RolloutHalted     RolloutState = "halted"      // stopped at a failed wave; earlier waves stay promoted
	RolloutCompleted  RolloutState = "completed"   // every wave passed
	RolloutRolledBack RolloutState = "rolled_back" // `rollback` restored every target
)

// Active reports whether the controller still moves the rollout.
func (s RolloutState) Active() bool { return s == RolloutRolling || s == RolloutHalting }

// WaveState is where one wave is.
type WaveState string

// Wave states, in order; a wave ends passed or failed.
const (
	WavePending WaveState = "pending" // not assigned yet
	WaveRolling WaveState = "rolling" // assigned; waiting for APPLIED and healthy
	WaveGated   WaveState = "gated"   // every agent applied; waiting for fresh own telemetry
	WavePassed  WaveState = "passed"
	WaveFailed  WaveState = "failed"
)

// Rollout is an experiment's progressive promotion: the candidate goes to
// the targets in waves, each gated on its agents applying it, staying
// healthy and reporting own telemetry with the critical processes kept.
type Rollout struct {
	State RolloutState `json:"state"`
	// Candidate names the candidate promoted: "candidate", or one of
	// spec.candidates.
	Candidate   string   `json:"candidate,omitempty"`
	GateTimeout Duration `json:"gate_timeout"`
	// MinCriticalRetention is the least critical retention a gate accepts,
	// the experiment's success criterion (1: not lower than before).
	MinCriticalRetention float64       `json:"min_critical_retention"`
	Waves                []RolloutWave `json:"waves"`
	StartedAt            time.Time     `json:"started_at,omitzero"`
	FinishedAt           time.Time     `json:"finished_at,omitzero"`
	// Reason says why the rollout halted.
	Reason string `json:"reason,omitempty"`
}

// Current is the index of the first wave that has not passed, or
// len(Waves) once all have.
func (r *Rollout) Current() int {
	for i, w := range r.Waves {
		if w.State != WavePassed {
			return i
		}
	}
	return len(r.Waves)
}

// RolloutWave is one wave: a share of the targets and how far its gate is.
type RolloutWave struct {
	// Percent is the cumulative share of the targets promoted once this
	// wave passes; Size how many agents the wave itself adds.
	Percent float64   `json:"percent"`
	Size    int       `json:"size"`
	State   WaveState `json:"state"`
	// Applied, Healthy and Reporting count the wave's agents that reported
	// the candidate APPLIED, are healthy on it, and sent own telemetry
	// after applying it.
	Applied   int `json:"applied"`
	Healthy   int `json:"healthy"`
	Reporting int `json:"reporting"`
	// Removed counts the wave's agents that left the inventory during the
	// rollout; the gate no longer waits for them.
	Removed int `json:"removed,omitempty"`
	// Reason says why the wave failed, or what its gate waits for.
	Reason     string         `json:"reason,omitempty"`
	StartedAt  time.Time      `json:"started_at,omitzero"`
	FinishedAt time.Time      `json:"finished_at,omitzero"`
	Agents     []RolloutAgent `json:"agents"`
}

// RolloutAgent is one agent of a wave.
type RolloutAgent struct {
	InstanceUID string `json:"instance_uid"`
	Host        string `json:"host,omitempty"`
	// ConfigHash is the candidate's configuration for this agent, set when
	// the wave starts.
	ConfigHash string `json:"config_hash,omitempty"`
	// BeforeGeneration is the generation of the assignment the wave
	// replaced: the wave assigns only over it, so an assignment someone
	// else made meanwhile is left alone.
	BeforeGeneration int64 `json:"before_generation,omitempty"`
	// Before is the assignment the wave replaced when it was not the
	// experiment's recorded previous one; a failed wave restores it. Its
	// config is left out when its pipeline and parameters render it again.
	Before *Assignment `json:"before,omitempty"`
	// AppliedAt is when the controller first saw it APPLIED and healthy.
	AppliedAt time.Time `json:"applied_at,omitzero"`
	Healthy   bool      `json:"healthy,omitempty"`
	Reporting bool      `json:"reporting,omitempty"`
	Passed    bool      `json:"passed,omitempty"`
	// CriticalBefore and CriticalAfter are its critical processes (the
	// cost_meter's gauge) before the wave and on fresh telemetry after.
	CriticalBefore *float64 `json:"critical_before,omitempty"`
	CriticalAfter  *float64 `json:"critical_after,omitempty"`
	// Removed is set once the agent is found gone from the inventory
	// (deleted, or swept after a long time offline): it is not assigned,
	// and its wave's gate does not wait for it.
	Removed bool `json:"removed,omitempty"`
}

// WaveOptions ask POST /assignments to assign in gated waves.
type WaveOptions struct {
	// Waves are cumulative percentages of the matching agents, strictly
	// increasing, the last 100, at most 10 (for example [1, 10, 50, 100]).
	// Without them every agent is assigned at once.
	Waves []float64 `json:"waves,omitempty"`
	// GateTimeout bounds how long each wave may take to pass its gate
	// (default 5m, between 30s and 1h).
	GateTimeout Duration `json:"gate_timeout,omitempty"`
}

// AssignmentRollout is a progressive assignment: the configuration goes to
// the agents the selector matched in waves, each gated on its agents
// applying it, staying healthy and sending own telemetry after the apply.
// A failed gate halts it and gives that wave's agents their previous
// assignment back (or none, when they had none); earlier waves keep it.
type AssignmentRollout struct {
	ID       string `json:"id"`
	Selector string `json:"selector"`
	// Pipeline is the catalog pipeline assigned, or "" for a configuration
	// given verbatim (its hash is each agent's config_hash).
	Pipeline   string         `json:"pipeline,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	// AssignmentReason is recorded with each assignment (the request's
	// reason); Rollout.Reason says why the rollout halted.
	AssignmentReason string `json:"assignment_reason,omitempty"`
	CreatedBy        string `json:"created_by,omitempty"`
	Rollout
}
