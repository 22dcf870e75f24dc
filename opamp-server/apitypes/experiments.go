package apitypes

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// Mode is how an experiment compares its variants.
type Mode string

// Modes.
const (
	// ModePaired runs both variants on every target, side by side from one
	// process scrape: identical input, exact comparison.
	ModePaired Mode = "paired"
	// ModeSplit divides the targets into two cohorts, each running one
	// variant for real; collector CPU and memory are compared too.
	ModeSplit Mode = "split"
)

// Variant names: the catalog labels each arm's cost_meter with them.
const (
	VariantBaseline  = "baseline"
	VariantCandidate = "candidate"
	// VariantBoth marks a paired-mode target, which runs both.
	VariantBoth = "both"
)

// ExperimentSpec is what an experiment is asked to do (docs/experiments.md).
// It is given as YAML or JSON; the server fills in defaults and validates it.
type ExperimentSpec struct {
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description"`
	// Targets select the agents by labels.
	Targets Targets `json:"targets" yaml:"targets"`
	// Mode is paired (default) or split.
	Mode Mode `json:"mode,omitempty" yaml:"mode"`
	// Baseline and Candidate are the two pipelines compared.
	Baseline  Variant `json:"baseline" yaml:"baseline"`
	Candidate Variant `json:"candidate,omitzero" yaml:"candidate"`
	// Candidates, instead of Candidate, compare up to MaxCandidates
	// pipelines with the baseline at once (paired mode only): every
	// candidate runs in shadow beside the baseline from the same scrape, and
	// the results rank them.
	Candidates []NamedVariant `json:"candidates,omitempty" yaml:"candidates"`
	// Parameters are collector parameters both variants share (collection
	// interval, destination, …).
	Parameters map[string]any `json:"parameters,omitempty" yaml:"parameters"`
	// Duration is how long to measure after warm-up; Warmup how long to let
	// rates and top-k membership settle first (default 1m).
	Duration Duration `json:"duration" yaml:"duration"`
	Warmup   Duration `json:"warmup,omitempty" yaml:"warmup"`
	// DeployTimeout bounds waiting for every target to apply its
	// configuration (default 3m).
	DeployTimeout Duration `json:"deploy_timeout,omitempty" yaml:"deploy_timeout"`
	// CriticalProcesses are rules (process_critical syntax) for the
	// processes that must survive; both variants' cost meters count them.
	CriticalProcesses []CriticalRule `json:"critical_processes,omitempty" yaml:"critical_processes"`
	// SuccessCriteria decide the verdict.
	SuccessCriteria Criteria `json:"success_criteria,omitzero" yaml:"success_criteria"`
	// PriceModels name the price table's models to report; empty for all.
	PriceModels []string `json:"price_models,omitempty" yaml:"price_models"`
}

// MinDuration is the shortest measurement: own telemetry is kept per minute
// and rates need two whole minutes in the window.
const MinDuration = 2 * time.Minute

// Targets select agents.
type Targets struct {
	// Selector is a label selector: "env=prod,host.name=~web-.*".
	Selector string `json:"selector" yaml:"selector"`
}

// Variant is one side of the comparison.
type Variant struct {
	// Pipeline is a catalog pipeline name.
	Pipeline string `json:"pipeline,omitempty" yaml:"pipeline"`
	// Parameters are the pipeline's variant parameters.
	Parameters map[string]any `json:"parameters,omitempty" yaml:"parameters"`
	// Current (baseline only) takes each agent's current catalog
	// assignment, pipeline and parameters, as the baseline.
	Current bool `json:"current,omitempty" yaml:"current"`
	// Export (candidate, paired mode) sends the candidate's output to the
	// destination too instead of running it in shadow.
	Export bool `json:"export,omitempty" yaml:"export"`
}

// MaxCandidates is the most candidates one experiment compares.
const MaxCandidates = 4

// NamedVariant is one candidate of an experiment with several.
type NamedVariant struct {
	// Name is the candidate's variant: what its cost_meter, the results and
	// promote call it. The server names a candidate without one after its
	// pipeline and parameters (topk-rollup-k5).
	Name       string         `json:"name,omitempty" yaml:"name"`
	Pipeline   string         `json:"pipeline" yaml:"pipeline"`
	Parameters map[string]any `json:"parameters,omitempty" yaml:"parameters"`
}

// CandidateNames are the names of the spec's candidates, in spec order:
// "candidate" alone for the single form.
func (s ExperimentSpec) CandidateNames() []string {
	if len(s.Candidates) == 0 {
		return []string{VariantCandidate}
	}
	names := make([]string, len(s.Candidates))
	for i, c := range s.Candidates {
		names[i] = c.Name
	}
	return names
}

// Name is how the variant is shown: its pipeline, or "each agent's current
// configuration" for a baseline that takes each agent's own.
func (v Variant) Name() string {
	if v.Current {
		return "each agent's current configuration"
	}
	return v.Pipeline
}

// Duration is a time.Duration written as "10m" in YAML and JSON.
type Duration time.Duration

// MarshalText writes the duration as "10m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads "10m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON reads "10m" or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if err := d.UnmarshalText([]byte(s)); err != nil {
			return durationError(b, err.Error())
		}
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return durationError(b, `want a string such as "10m" or a number of seconds`)
	}
	*d = Duration(time.Duration(secs * float64(time.Second)))
	return nil
}

// durationError is a type error, so that encoding/json names the field
// the duration was for.
func durationError(b []byte, why string) error {
	return &json.UnmarshalTypeError{Value: fmt.Sprintf("%s (%s)", b, why), Type: reflect.TypeFor[Duration]()}
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ExperimentStatus is a step of the experiment lifecycle.
type ExperimentStatus string

// The experiment lifecycle: pending → deploying → running → analyzing →
// completed, or failed or cancelled from any step before completed.
const (
	ExperimentPending   ExperimentStatus = "pending"
	ExperimentDeploying ExperimentStatus = "deploying"
	ExperimentRunning   ExperimentStatus = "running"
	ExperimentAnalyzing ExperimentStatus = "analyzing"
	ExperimentCompleted ExperimentStatus = "completed"
	ExperimentFailed    ExperimentStatus = "failed"
	ExperimentCancelled ExperimentStatus = "cancelled"
)

// ExperimentStatuses lists the lifecycle in order.
func ExperimentStatuses() []ExperimentStatus {
	return []ExperimentStatus{ExperimentPending, ExperimentDeploying, ExperimentRunning, ExperimentAnalyzing,
		ExperimentCompleted, ExperimentFailed, ExperimentCancelled}
}

// Terminal reports whether the status is final.
func (s ExperimentStatus) Terminal() bool {
	switch s {
	case ExperimentCompleted, ExperimentFailed, ExperimentCancelled:
		return true
	}
	return false
}

// Experiment is an experiment: its spec, where it is in its lifecycle, and
// what it has found.
type Experiment struct {
	ID        string           `json:"id"`
	Name      string           `json:"name"`
	Status    ExperimentStatus `json:"status"`
	Spec      ExperimentSpec   `json:"spec"`
	State     ExperimentState  `json:"state"`
	CreatedAt time.Time        `json:"created_at"`
	UpdatedAt time.Time        `json:"updated_at"`
	// Progress is the measured fraction of the duration, 0..1.
	Progress float64           `json:"progress"`
	Events   []ExperimentEvent `json:"events,omitempty"`
}

// ExperimentState is the controller's record of an experiment: everything
// needed to resume it after a restart on any replica.
type ExperimentState struct {
	// StartRequested is set by `start`; StopRequested by `stop`.
	StartRequested bool `json:"start_requested,omitempty"`
	StopRequested  bool `json:"stop_requested,omitempty"`
	// Times of the lifecycle.
	DeployStartedAt time.Time `json:"deploy_started_at,omitzero"`
	RunningSince    time.Time `json:"running_since,omitzero"`
	// MeasureFrom is RunningSince + warm-up, rounded up to a whole minute;
	// EndsAt MeasureFrom + duration.
	MeasureFrom time.Time `json:"measure_from,omitzero"`
	EndsAt      time.Time `json:"ends_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	// Targets are the agents and what they run. A view asked for without
	// them (GET /experiments/{id}?targets=false) leaves them out.
	Targets []ExperimentTarget `json:"targets,omitempty"`
	// TargetSummary is the targets counted, which the API computes for
	// every view, with or without Targets; the controller does not store it.
	TargetSummary *TargetSummary `json:"target_summary,omitempty"`
	// Configs are the rendered configurations by variant ("paired" holds
	// the combined one), for reports.
	Configs map[string]string `json:"configs,omitempty"`
	// Results are the analysis, once analysed.
	Results *Results `json:"results,omitempty"`
	// Verdict is "pass" or "fail" once analysed.
	Verdict string `json:"verdict,omitempty"`
	// Error explains a failure.
	Error string `json:"error,omitempty"`
	// Restored is set once the targets were given back their previous
	// configurations; Promoted once the candidate was assigned for good;
	// RolledBack once a promotion was undone.
	Restored   bool `json:"restored,omitempty"`
	Promoted   bool `json:"promoted,omitempty"`
	RolledBack bool `json:"rolled_back,omitempty"`
	// Rollout is the progressive promotion, once promote asked for one.
	Rollout *Rollout `json:"rollout,omitempty"`
}

// ExperimentTarget is one agent in an experiment.
type ExperimentTarget struct {
	InstanceUID string `json:"instance_uid"`
	Host        string `json:"host,omitempty"`
	// Variant is baseline or candidate (split mode), or both (paired).
	Variant string `json:"variant"`
	// Previous is the assignment the agent had before the experiment,
	// restored when it ends. Its config is left out when its pipeline and
	// parameters render it again (as they are at the restore), which keeps
	// a fleet's experiment small.
	Previous Assignment `json:"previous"`
	// ConfigHash is the configuration the experiment assigned.
	ConfigHash string `json:"config_hash,omitempty"`
	// Applied is set once the agent reported it APPLIED.
	Applied bool `json:"applied,omitempty"`
	// ApplyRetries is how many apply-timeout retries of ConfigHash the
	// experiment has announced in its events.
	ApplyRetries int `json:"apply_retries,omitempty"`
}

// TargetSummary counts an experiment's targets, so a view without them
// still says how far a deploy has come: a 10,000-target experiment's
// targets are about 25 MiB, its summary a few bytes.
type TargetSummary struct {
	// Total is the number of targets.
	Total int `json:"total"`
	// Applied is how many reported the experiment's configuration APPLIED.
	Applied int `json:"applied"`
	// ByVariant is the counts by Variant name: baseline and candidate, or
	// both in paired mode.
	ByVariant map[string]VariantTargets `json:"by_variant,omitempty"`
}

// VariantTargets counts one variant's targets.
type VariantTargets struct {
	// Total is the number of the variant's targets.
	Total int `json:"total"`
	// Applied is how many of them reported their configuration APPLIED.
	Applied int `json:"applied"`
}

// ExperimentEvent records one lifecycle transition or notable event.
type ExperimentEvent struct {
	ExperimentID string `json:"experiment_id"`
	// Seq is assigned by the store: 1, 2, … per experiment.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// From and To are set on a transition, and empty on other events.
	From  ExperimentStatus `json:"from,omitempty"`
	To    ExperimentStatus `json:"to,omitempty"`
	Cause string           `json:"cause"`
}

// ExperimentResults are an experiment's results: final once analysed, an
// interim analysis of the minutes so far while it runs.
type ExperimentResults struct {
	Final   bool    `json:"final"`
	Results Results `json:"results"`
}
