package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
)

// Variants: the catalog labels each arm's cost_meter with them.
const (
	VariantBaseline  = catalog.VariantBaseline
	VariantCandidate = catalog.VariantCandidate
	// variantBoth marks a paired-mode target, which runs both.
	variantBoth = "both"
)

// State is the controller's record of an experiment, kept in the store as
// the experiment's State document: everything needed to resume after a
// restart on any replica.
type State struct {
	// StartRequested is set by `start`; StopRequested by `stop`.
	StartRequested bool `json:"start_requested,omitempty"`
	StopRequested  bool `json:"stop_requested,omitempty"`
	// Times of the lifecycle.
	DeployStartedAt time.Time `json:"deploy_started_at,omitzero"`
	RunningSince    time.Time `json:"running_since,omitzero"`
	// MeasureFrom is RunningSince + warm-up; EndsAt MeasureFrom + duration.
	MeasureFrom time.Time `json:"measure_from,omitzero"`
	EndsAt      time.Time `json:"ends_at,omitzero"`
	FinishedAt  time.Time `json:"finished_at,omitzero"`
	// Targets are the agents and what they run.
	Targets []Target `json:"targets,omitempty"`
	// Configs are the rendered configurations by variant ("paired" holds
	// the combined one), for reports.
	Configs map[string]string `json:"configs,omitempty"`
	// Results are the analysis, once analysed.
	Results json.RawMessage `json:"results,omitempty"`
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
}

// Target is one agent in an experiment.
type Target struct {
	InstanceUID string `json:"instance_uid"`
	Host        string `json:"host,omitempty"`
	// Variant is baseline or candidate (split mode), or both (paired).
	Variant string `json:"variant"`
	// Previous is the assignment the agent had before the experiment,
	// restored when it ends.
	Previous store.Assignment `json:"previous"`
	// ConfigHash is the configuration the experiment assigned.
	ConfigHash string `json:"config_hash,omitempty"`
	// Applied is set once the agent reported it APPLIED.
	Applied bool `json:"applied,omitempty"`
	// ApplyRetries is how many apply-timeout retries of ConfigHash the
	// experiment has announced in its events.
	ApplyRetries int `json:"apply_retries,omitempty"`
}

// Experiment is an experiment as the API shows it.
type Experiment struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Spec      Spec      `json:"spec"`
	State     State     `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Progress is the measured fraction of the duration, 0..1.
	Progress float64                 `json:"progress"`
	Events   []store.ExperimentEvent `json:"events,omitempty"`
	version  int64
}

// Terminal reports whether an experiment status is final.
func Terminal(status string) bool {
	switch status {
	case store.ExperimentCompleted, store.ExperimentFailed, store.ExperimentCancelled:
		return true
	}
	return false
}

func decode(e store.Experiment) (Experiment, error) {
	x := Experiment{ID: e.ID, Name: e.Name, Status: e.Status, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, version: e.Version}
	if err := json.Unmarshal(e.Spec, &x.Spec); err != nil {
		return x, fmt.Errorf("experiment %s: spec: %w", e.ID, err)
	}
	if len(e.State) > 0 {
		if err := json.Unmarshal(e.State, &x.State); err != nil {
			return x, fmt.Errorf("experiment %s: state: %w", e.ID, err)
		}
	}
	x.Progress = x.progress(time.Now())
	return x, nil
}

func (x Experiment) encode() (store.Experiment, error) {
	spec, err := json.Marshal(x.Spec)
	if err != nil {
		return store.Experiment{}, err
	}
	state, err := json.Marshal(x.State)
	if err != nil {
		return store.Experiment{}, err
	}
	return store.Experiment{ID: x.ID, Name: x.Name, Status: x.Status, Spec: spec, State: state,
		Version: x.version, CreatedAt: x.CreatedAt}, nil
}

func (x Experiment) progress(now time.Time) float64 {
	switch {
	case x.Status == store.ExperimentAnalyzing || x.Status == store.ExperimentCompleted:
		return 1
	case x.State.EndsAt.IsZero() || now.Before(x.State.RunningSince):
		return 0
	}
	total := x.State.EndsAt.Sub(x.State.RunningSince)
	if total <= 0 {
		return 1
	}
	return min(1, float64(now.Sub(x.State.RunningSince))/float64(total))
}
