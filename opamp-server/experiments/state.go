package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// Experiment is the controller's working copy of an experiment: what the
// API shows, and the store version it was read at (for compare-and-swap).
type Experiment struct {
	apitypes.Experiment
	version int64
}

func decode(e store.Experiment) (Experiment, error) {
	x := Experiment{Experiment: apitypes.Experiment{ID: e.ID, Name: e.Name, Status: e.Status, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt}, version: e.Version}
	if err := json.Unmarshal(e.Spec, &x.Spec); err != nil {
		return x, fmt.Errorf("experiment %s: spec: %w", e.ID, err)
	}
	if len(e.State) > 0 {
		if err := decodeState(e.State, &x.State); err != nil {
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
	state, err := encodeState(x.State)
	if err != nil {
		return store.Experiment{}, err
	}
	return store.Experiment{ID: x.ID, Name: x.Name, Status: x.Status, Spec: spec, State: state,
		Version: x.version, CreatedAt: x.CreatedAt}, nil
}

func (x Experiment) progress(now time.Time) float64 {
	switch {
	case x.Status == apitypes.ExperimentAnalyzing || x.Status == apitypes.ExperimentCompleted:
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
