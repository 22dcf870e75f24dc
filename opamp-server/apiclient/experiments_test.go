package apiclient

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/api"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

// experimentServer serves the REST API with an experiment controller, which
// the test steps itself, over an embedded store.
func experimentServer(t *testing.T) (*Client, *experiments.Controller, *boltstore.Store) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	assign, err := assignment.New(assignment.Settings{Store: st, Catalog: cat, Validate: distribution.ValidateYAML})
	require.NoError(t, err)
	ctl, err := experiments.New(experiments.Settings{Store: st, Catalog: cat, Assignments: assign,
		Analyze: func(context.Context, experiments.Experiment, map[string][]apitypes.Sample) (apitypes.Results, error) {
			return apitypes.Results{}, nil
		}})
	require.NoError(t, err)
	a, err := api.New(api.Settings{Store: st, Catalog: cat, Assignments: assign, Experiments: ctl, Metrics: servermetrics.New(),
		Report: func(context.Context, string, io.Writer) error { return nil }})
	require.NoError(t, err)
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return New(srv.URL, ""), ctl, st
}

func TestExperimentWithoutTargets(t *testing.T) {
	c, ctl, st := experimentServer(t)
	ctx := t.Context()
	for _, uid := range []string{"agent-1", "agent-2"} {
		require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: uid, Labels: map[string]string{"env": "test"},
			Online: true, Health: &apitypes.Health{Healthy: true}}))
		// Something to give back when the experiment ends.
		_, err := st.SetAssignment(ctx, apitypes.Assignment{InstanceUID: uid, Reason: "before",
			Config: "receivers:\n  nop: {}\nexporters:\n  nop: {}\nservice:\n  pipelines:\n    metrics:\n      receivers: [nop]\n      exporters: [nop]\n"})
		require.NoError(t, err)
	}
	x, err := c.CreateExperiment(ctx, apitypes.ExperimentSpec{Name: "two", Targets: apitypes.Targets{Selector: "env=test"},
		Baseline: apitypes.Variant{Pipeline: "baseline"}, Candidate: apitypes.Variant{Pipeline: "topk-rollup"},
		Duration: apitypes.Duration(2 * time.Minute)}, true)
	require.NoError(t, err)
	ctl.ReconcileAll(ctx)

	full, err := c.Experiment(ctx, x.ID)
	require.NoError(t, err)
	require.Len(t, full.State.Targets, 2, full.State.Error)
	small, err := c.ExperimentWith(ctx, x.ID, ExperimentOptions{WithoutTargets: true})
	require.NoError(t, err)
	assert.Empty(t, small.State.Targets)
	assert.Equal(t, full.Status, small.Status)
	require.NotNil(t, small.State.TargetSummary)
	assert.Equal(t, 2, small.State.TargetSummary.Total)
	assert.Equal(t, full.State.TargetSummary, small.State.TargetSummary)

	_, err = c.ExperimentWith(ctx, "exp-none", ExperimentOptions{WithoutTargets: true})
	assert.True(t, IsStatus(err, http.StatusNotFound))
}
