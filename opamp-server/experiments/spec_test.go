package experiments

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

func TestValidateNamesEveryField(t *testing.T) {
	t.Parallel()
	ptr := func(v float64) *float64 { return &v }
	tests := []struct {
		name  string
		edit  func(*apitypes.ExperimentSpec)
		field string
	}{
		{"empty name", func(s *apitypes.ExperimentSpec) { s.Name = " " }, "name: required"},
		{"control character in name", func(s *apitypes.ExperimentSpec) { s.Name = "a\nb" }, "name: required"},
		{"no baseline", func(s *apitypes.ExperimentSpec) { s.Baseline = apitypes.Variant{} }, "baseline: give a pipeline, or current: true"},
		{"both baselines", func(s *apitypes.ExperimentSpec) { s.Baseline.Current = true }, "baseline: pipeline and current contradict"},
		{"baseline export", func(s *apitypes.ExperimentSpec) { s.Baseline.Export = true }, "baseline.export:"},
		{"candidate current", func(s *apitypes.ExperimentSpec) { s.Candidate.Current = true }, "candidate.current:"},
		{"export in split mode", func(s *apitypes.ExperimentSpec) { s.Mode, s.Candidate.Export = apitypes.ModeSplit, true }, "candidate.export: split mode"},
		{"negative warm-up", func(s *apitypes.ExperimentSpec) { s.Warmup = apitypes.Duration(-time.Second) }, "warmup: must be between 0 and 1h0m0s"},
		// Findings: a 292-year experiment was accepted.
		{"centuries long", func(s *apitypes.ExperimentSpec) { s.Duration = apitypes.Duration(292 * 365 * 24 * time.Hour) }, "duration: must be at most 168h0m0s"},
		{"day-long warm-up", func(s *apitypes.ExperimentSpec) { s.Warmup = apitypes.Duration(24 * time.Hour) }, "warmup: must be between 0 and 1h0m0s"},
		{"day-long deploy timeout", func(s *apitypes.ExperimentSpec) { s.DeployTimeout = apitypes.Duration(24 * time.Hour) }, "deploy_timeout: must be between 10s and 1h0m0s"},
		{"short deploy timeout", func(s *apitypes.ExperimentSpec) { s.DeployTimeout = apitypes.Duration(time.Second) }, "deploy_timeout: must be between 10s and 1h0m0s"},
		{"bad rule", func(s *apitypes.ExperimentSpec) { s.CriticalProcesses = []apitypes.CriticalRule{{Name: "db"}} }, "critical_processes:"},
		{"reduction above 1", func(s *apitypes.ExperimentSpec) { s.SuccessCriteria.MinSeriesReduction = 1.5 }, "success_criteria.min_series_reduction:"},
		{"retention below 0", func(s *apitypes.ExperimentSpec) { s.SuccessCriteria.MinCriticalRetention = ptr(-0.1) }, "success_criteria.min_critical_retention:"},
		{"CPU coverage above 1", func(s *apitypes.ExperimentSpec) { s.SuccessCriteria.MinCPUCoverage = ptr(1.01) }, "success_criteria.min_cpu_coverage:"},
		{"negative blind spots", func(s *apitypes.ExperimentSpec) { s.SuccessCriteria.MaxBlindSpotsPerHour = ptr(-1.0) }, "success_criteria.max_blind_spots_per_hour:"},
		{"infinite blind spots", func(s *apitypes.ExperimentSpec) { s.SuccessCriteria.MaxBlindSpotsPerHour = ptr(math.Inf(1)) }, "success_criteria.max_blind_spots_per_hour:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := validSpec(apitypes.ModePaired)
			applyDefaults(&s)
			require.NoError(t, Validate(s))
			tt.edit(&s)
			err := Validate(s)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestDurationEncodings(t *testing.T) {
	t.Parallel()
	var d apitypes.Duration
	require.NoError(t, json.Unmarshal([]byte(`"90s"`), &d))
	assert.Equal(t, 90*time.Second, d.D())
	require.NoError(t, json.Unmarshal([]byte(`1.5`), &d), "a number is seconds")
	assert.Equal(t, 1500*time.Millisecond, d.D())
	err := json.Unmarshal([]byte(`true`), &d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `want a string such as "10m"`)
	assert.Error(t, json.Unmarshal([]byte(`"ten minutes"`), &d))

	raw, err := json.Marshal(apitypes.Duration(10 * time.Minute))
	require.NoError(t, err)
	assert.JSONEq(t, `"10m0s"`, string(raw))
	out, err := yaml.Marshal(struct{ D apitypes.Duration }{apitypes.Duration(5 * time.Minute)})
	require.NoError(t, err)
	assert.Equal(t, "d: 5m0s\n", string(out))
}

func TestProgress(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	running := apitypes.Experiment{Status: apitypes.ExperimentRunning, State: apitypes.ExperimentState{RunningSince: start, EndsAt: start.Add(10 * time.Minute)}}
	for _, tt := range []struct {
		name string
		x    apitypes.Experiment
		now  time.Time
		want float64
	}{
		{"pending", apitypes.Experiment{Status: apitypes.ExperimentPending}, start, 0},
		{"before running", running, start.Add(-time.Minute), 0},
		{"a quarter", running, start.Add(150 * time.Second), 0.25},
		{"past the end", running, start.Add(time.Hour), 1},
		{"analyzing", apitypes.Experiment{Status: apitypes.ExperimentAnalyzing}, start, 1},
		{"completed", apitypes.Experiment{Status: apitypes.ExperimentCompleted}, start, 1},
		{"no window", apitypes.Experiment{Status: apitypes.ExperimentRunning, State: apitypes.ExperimentState{RunningSince: start, EndsAt: start}}, start, 1},
	} {
		assert.InDelta(t, tt.want, Experiment{Experiment: tt.x}.progress(tt.now), 1e-9, tt.name)
	}
}

func TestNewNeedsItsSettings(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, edit := range []func(*Settings){
		func(s *Settings) { s.Store = nil },
		func(s *Settings) { s.Catalog = nil },
		func(s *Settings) { s.Assignments = nil },
		func(s *Settings) { s.Analyze = nil },
	} {
		set := f.c.set
		edit(&set)
		_, err := New(set)
		assert.ErrorContains(t, err, "Store, Catalog, Assignments and Analyze are required")
	}
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	var ids []string
	for i := range 5 {
		s := validSpec(apitypes.ModePaired)
		s.Name = strings.Repeat("x", i+1)
		x, err := f.c.Create(ctx, s)
		require.NoError(t, err)
		ids = append(ids, x.ID)
	}
	_, err := f.c.Stop(ctx, ids[1])
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)

	var got []string
	page := store.Page{Limit: 2}
	for {
		xs, next, err := f.c.List(ctx, []apitypes.ExperimentStatus{apitypes.ExperimentPending}, page)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(xs), 2)
		for _, x := range xs {
			got = append(got, x.ID)
			assert.Equal(t, apitypes.ExperimentPending, x.Status)
		}
		if next == "" {
			break
		}
		page.After = next
	}
	assert.ElementsMatch(t, []string{ids[0], ids[2], ids[3], ids[4]}, got)
	cancelled, _, err := f.c.List(ctx, []apitypes.ExperimentStatus{apitypes.ExperimentCancelled}, store.Page{})
	require.NoError(t, err)
	require.Len(t, cancelled, 1)
	assert.Equal(t, ids[1], cancelled[0].ID)
	_, _, err = f.c.List(ctx, nil, store.Page{After: "not a cursor"})
	assert.Error(t, err)
}

func TestAnUnreadableExperimentDoesNotStopTheOthers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.agent("a1", map[string]string{"env": "test"})
	_, err := f.st.CreateExperiment(ctx, store.Experiment{ID: "exp-broken", Name: "broken", Status: apitypes.ExperimentPending,
		Spec: json.RawMessage(`{"duration": true}`)})
	require.NoError(t, err)
	x, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	_, err = f.c.Start(ctx, x.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	assert.Equal(t, apitypes.ExperimentDeploying, f.get(x.ID).Status)

	_, err = f.c.Get(ctx, "exp-broken")
	assert.ErrorContains(t, err, "experiment exp-broken: spec")
	_, _, err = f.c.List(ctx, nil, store.Page{})
	assert.Error(t, err)
}

func TestTargetsAreTheOnlineAgentsTheSelectorMatches(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("web-1", map[string]string{"env": "test", "host.name": "web-1"})
	f.agent("db-1", map[string]string{"env": "test", "host.name": "db-1"})
	f.agent("web-2", map[string]string{"env": "test", "host.name": "web-2"})
	offline, err := f.st.GetAgent(t.Context(), "web-2")
	require.NoError(t, err)
	offline.Online = false
	require.NoError(t, f.st.UpsertAgent(t.Context(), offline))

	spec := validSpec(apitypes.ModePaired)
	spec.Targets.Selector = "env=test,host.name=~web-.*"
	x := f.deployed(spec)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	require.Len(t, x.State.Targets, 1)
	assert.Equal(t, "web-1", x.State.Targets[0].InstanceUID)

	spec.Targets.Selector = "env=nowhere"
	y := f.deployed(spec)
	assert.Equal(t, apitypes.ExperimentFailed, y.Status)
	assert.Equal(t, `no online agent matches "env=nowhere"`, y.State.Error)
}

func TestActionsInTheWrongState(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	x, err := f.c.Create(ctx, validSpec(apitypes.ModePaired))
	require.NoError(t, err)
	for name, action := range map[string]func(context.Context, string) (Experiment, error){
		"promote":  f.c.Promote,
		"rollback": f.c.Rollback,
	} {
		_, err := action(ctx, x.ID)
		assert.ErrorIs(t, err, ErrState, name)
	}
	_, err = f.c.Stop(ctx, x.ID)
	require.NoError(t, err)
	f.c.ReconcileAll(ctx)
	_, err = f.c.Rollback(ctx, x.ID)
	assert.ErrorIs(t, err, ErrState, "nothing was deployed, so there is nothing to roll back")
	_, err = f.c.Start(ctx, "exp-none")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// refusingStore fails every assignment once armed.
type refusingStore struct {
	store.Store
	armed atomic.Bool
}

func (s *refusingStore) SetAssignments(ctx context.Context, asgs []apitypes.Assignment) ([]apitypes.Assignment, error) {
	if s.armed.Load() {
		return nil, errors.New("disk full")
	}
	return s.Store.SetAssignments(ctx, asgs)
}

func TestAFailedRestoreIsRecorded(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	refusing := &refusingStore{Store: f.st}
	f.c = f.replica(refusing)
	f.agent("a1", map[string]string{"env": "test"})
	x := f.deployed(validSpec(apitypes.ModePaired))
	f.advance(DefaultDeployTimeout + time.Second)
	refusing.armed.Store(true)
	f.c.ReconcileAll(ctx)
	x = f.get(x.ID)
	assert.Equal(t, apitypes.ExperimentFailed, x.Status)
	assert.False(t, x.State.Restored)
	assert.Equal(t, "1 agent(s) did not apply their configuration within 3m0s; restoring configurations: 1 of 1 targets not restored: disk full", x.State.Error)

	refusing.armed.Store(false)
	_, err := f.c.Rollback(ctx, x.ID)
	require.NoError(t, err, "a rollback retries the restore")
	assert.True(t, f.get(x.ID).State.Restored)
	assert.Contains(t, f.assigned("a1").Reason, "rolled back after experiment t")
}

// TestCreateRendersWhatItWouldDeploy replays the finding: a candidate with
// k: 0 was accepted at create and failed only once deploying.
func TestCreateRendersWhatItWouldDeploy(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, mode := range []apitypes.Mode{apitypes.ModePaired, apitypes.ModeSplit} {
		s := validSpec(mode)
		s.Candidate.Parameters = map[string]any{"k": 0}
		_, err := f.c.Create(t.Context(), s)
		require.ErrorIs(t, err, ErrInvalidSpec, mode)
		assert.ErrorContains(t, err, `"k"`, mode)
	}
	s := validSpec(apitypes.ModePaired)
	s.Baseline = apitypes.Variant{Current: true}
	s.Candidate.Parameters = map[string]any{"k": 0}
	_, err := f.c.Create(t.Context(), s)
	assert.ErrorIs(t, err, ErrInvalidSpec, "the candidate is checked when the baseline is each agent's own")

	xs, _, err := f.c.List(t.Context(), nil, store.Page{})
	require.NoError(t, err)
	assert.Empty(t, xs, "nothing refused was stored")
}
