package assignment

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/selector"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
	"github.com/phoenix/platform/pipelines/catalog"
	"github.com/phoenix/platform/pipelines/distribution"
)

const ownURL = "http://127.0.0.1:8080/v1/metrics"

type recordingPusher struct {
	mu    sync.Mutex
	calls []string
}

func (p *recordingPusher) Push(_ context.Context, uid string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, uid)
	return errors.New("not connected") // a failed push never fails an assignment
}

func newService(t testing.TB, edit ...func(*Settings)) (*Service, store.Store, *recordingPusher) {
	t.Helper()
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	cat, err := catalog.Load(distribution.ValidateYAML)
	require.NoError(t, err)
	pusher := &recordingPusher{}
	set := Settings{Store: st, Catalog: cat, Validate: distribution.ValidateYAML, Pusher: pusher, OwnTelemetryURL: ownURL}
	for _, e := range edit {
		e(&set)
	}
	s, err := New(set)
	require.NoError(t, err)
	return s, st, pusher
}

func TestNewChecksItsSettings(t *testing.T) {
	t.Parallel()
	_, err := New(Settings{})
	assert.ErrorContains(t, err, "Store, Catalog and Validate are required")
	s, _, _ := newService(t)
	set := s.set
	set.DefaultPipeline = "nope"
	_, err = New(set)
	assert.ErrorContains(t, err, "default_pipeline")
}

func TestAgentParams(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1", Labels: map[string]string{
		apitypes.AgentParamLabelPrefix + "health_check_endpoint": "127.0.0.1:13134",
		apitypes.AgentParamLabelPrefix + "memory_limit_mib":      "256",
		apitypes.AgentParamLabelPrefix + "system_metrics":        "false",
		apitypes.AgentParamLabelPrefix:                           "no name",
		"env":                                                    "prod",
	}}))
	assert.Equal(t, map[string]any{
		"instance_id": "a1", "telemetry_endpoint": ownURL, "telemetry_token_env": apitypes.AgentTokenEnv,
		"health_check_endpoint": "127.0.0.1:13134", "memory_limit_mib": 256, "system_metrics": false,
	}, s.AgentParams(t.Context(), "a1"), "labels are read as YAML scalars; a prefix without a name is ignored")
	assert.Equal(t, map[string]any{"instance_id": "ghost", "telemetry_endpoint": ownURL, "telemetry_token_env": apitypes.AgentTokenEnv},
		s.AgentParams(t.Context(), "ghost"), "an unknown agent gets the server's parameters")
}

func TestAgentParamsSetOnlyCollectorParameters(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1", Labels: map[string]string{
		apitypes.AgentParamLabelPrefix + "k":               "99",
		apitypes.AgentParamLabelPrefix + "not_a_parameter": "x",
	}}))
	asg, err := s.Render(t.Context(), "a1", "topk", nil)
	require.NoError(t, err)
	assert.Equal(t, "a1", asg.Parameters["instance_id"])
	assert.NotEqual(t, 99, asg.Parameters["k"], "a processor parameter is the assigner's, not the agent's")
	assert.NotContains(t, asg.Parameters, "not_a_parameter")

	asg, err = s.Render(t.Context(), "a1", "topk", map[string]any{"instance_id": "chosen", "telemetry_endpoint": "https://elsewhere/v1/metrics"})
	require.NoError(t, err)
	assert.Equal(t, "a1", asg.Parameters["instance_id"], "the server's own parameters win over a caller's")
	assert.Equal(t, ownURL, asg.Parameters["telemetry_endpoint"])

	paired, err := s.RenderPaired(t.Context(), "a1", catalog.PairedSpec{
		Baseline: catalog.Ref{Pipeline: "baseline"}, Candidate: catalog.Ref{Pipeline: "topk"}})
	require.NoError(t, err)
	assert.Contains(t, paired.Config, "a1", "a paired configuration carries the agent's identity too")
	assert.Equal(t, store.HashConfig([]byte(paired.Config)), paired.ConfigHash)
}

func TestFromRequest(t *testing.T) {
	t.Parallel()
	s, _, _ := newService(t)
	ctx := t.Context()
	for _, req := range []apitypes.AssignRequest{{}, {Pipeline: "baseline", Config: "receivers: {}"}} {
		_, err := s.FromRequest(ctx, "a1", req, Grants{})
		assert.ErrorIs(t, err, ErrRequest)
		assert.ErrorContains(t, err, "exactly one of pipeline or config")
		assert.False(t, IsRenderFailure(err))
	}
	_, err := s.FromRequest(ctx, "a1", apitypes.AssignRequest{Config: "receivers: {nop: {}}"}, Grants{})
	_, invalid := distribution.AsInvalid(err)
	assert.True(t, invalid, "an invalid verbatim configuration names its problems: %v", err)
	assert.True(t, IsRenderFailure(err))
	_, err = s.FromRequest(ctx, "a1", apitypes.AssignRequest{Pipeline: "baseline", Parameters: map[string]any{"memory_limit_mib": 1}}, Grants{})
	_, badParams := catalog.AsInvalidParams(err)
	assert.True(t, badParams, "%v", err)
	assert.True(t, IsRenderFailure(err))
	_, err = s.FromRequest(ctx, "a1", apitypes.AssignRequest{Pipeline: "nope"}, Grants{})
	assert.ErrorIs(t, err, catalog.ErrUnknownPipeline)

	asg, err := s.FromRequest(ctx, "a1", apitypes.AssignRequest{Pipeline: "baseline", Reason: "why"}, Grants{})
	require.NoError(t, err)
	assert.Equal(t, "why", asg.Reason)
	assert.Equal(t, "a1", asg.InstanceUID)
}

func TestAssignStoresAndTellsTheAgent(t *testing.T) {
	t.Parallel()
	s, st, pusher := newService(t)
	ctx := t.Context()
	_, err := s.Assign(ctx, "ghost", apitypes.AssignRequest{Pipeline: "baseline"}, Grants{})
	assert.ErrorIs(t, err, store.ErrNotFound, "only a known agent is assigned")

	require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: "a1"}))
	asg, err := s.Assign(ctx, "a1", apitypes.AssignRequest{Pipeline: "baseline"}, Grants{})
	require.NoError(t, err, "a failed push does not fail the assignment")
	assert.Equal(t, int64(1), asg.Generation)
	assert.Equal(t, []string{"a1"}, pusher.calls)
	stored, err := st.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, asg.ConfigHash, stored.ConfigHash)

	require.NoError(t, s.Unassign(ctx, "a1"))
	_, err = st.GetAssignment(ctx, "a1")
	assert.ErrorIs(t, err, store.ErrNotFound)
}

func TestAssignMatchingIsAllOrNothing(t *testing.T) {
	t.Parallel()
	s, st, pusher := newService(t)
	ctx := t.Context()
	for _, uid := range []string{"a1", "a2", "a3"} {
		labels := map[string]string{"env": "prod"}
		if uid == "a2" {
			labels[apitypes.AgentParamLabelPrefix+"health_check_endpoint"] = "no-port" // not host:port
		}
		require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: uid, Labels: labels}))
	}
	_, err := s.AssignMatching(ctx, "env=prod", apitypes.AssignRequest{Pipeline: "baseline"}, Grants{})
	assert.True(t, IsRenderFailure(err), "%v", err)
	assert.Empty(t, pusher.calls, "nothing stored, nothing sent")
	for _, uid := range []string{"a1", "a3"} {
		_, err := st.GetAssignment(ctx, uid)
		assert.ErrorIs(t, err, store.ErrNotFound)
	}

	_, err = s.AssignMatching(ctx, " ", apitypes.AssignRequest{Pipeline: "baseline"}, Grants{})
	assert.ErrorIs(t, err, ErrRequest)
	_, err = s.AssignMatching(ctx, "env=~(", apitypes.AssignRequest{Pipeline: "baseline"}, Grants{})
	assert.ErrorIs(t, err, ErrRequest)
	_, err = s.AssignMatching(ctx, "env=staging", apitypes.AssignRequest{Pipeline: "baseline"}, Grants{})
	assert.ErrorIs(t, err, ErrNoMatch)

	results, err := s.AssignMatching(ctx, "env=prod", apitypes.AssignRequest{Pipeline: "baseline", Parameters: map[string]any{"health_check_endpoint": "127.0.0.1:13133"}}, Grants{})
	require.NoError(t, err)
	assert.Len(t, results, 3)
	assert.Equal(t, []string{"a1", "a2", "a3"}, pusher.calls)
}

func TestMatching(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	ctx := t.Context()
	require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: "on", Online: true, Labels: map[string]string{"host.name": "web-1"}}))
	require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: "off", Labels: map[string]string{"host.name": "web-2"}}))
	require.NoError(t, st.UpsertAgent(ctx, apitypes.Agent{InstanceUID: "db", Online: true, Labels: map[string]string{"host.name": "db-1"}}))
	sel, err := selector.Parse("host.name=~web-.*")
	require.NoError(t, err)
	uids := func(onlineOnly bool) []string {
		agents, err := s.Matching(ctx, sel, onlineOnly)
		require.NoError(t, err)
		var out []string
		for _, a := range agents {
			out = append(out, a.InstanceUID)
		}
		return out
	}
	assert.Equal(t, []string{"off", "on"}, uids(false))
	assert.Equal(t, []string{"on"}, uids(true))
}

func TestAssignDefault(t *testing.T) {
	t.Parallel()
	s, st, pusher := newService(t, func(set *Settings) {
		set.DefaultPipeline, set.DefaultParameters = "baseline", map[string]any{"memory_limit_mib": 128}
	})
	ctx := t.Context()
	s.AssignDefault(ctx, "a1")
	asg, err := st.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, "baseline", asg.Pipeline)
	assert.EqualValues(t, 128, asg.Parameters["memory_limit_mib"])
	assert.Equal(t, "a1", asg.Parameters["instance_id"])
	assert.Equal(t, "default pipeline for new agents", asg.Reason)

	s.AssignDefault(ctx, "a1")
	again, err := st.GetAssignment(ctx, "a1")
	require.NoError(t, err)
	assert.Equal(t, asg.Generation, again.Generation, "an agent with an assignment keeps it")
	assert.Empty(t, pusher.calls, "the reply to the agent's first message carries it; a push from inside that message would deadlock")
}

// TestLabelsCannotRedirectAnAgent replays the finding: a spoofed
// description's phoenix.param.* labels overrode where an agent sends its
// metrics and its own telemetry.
func TestLabelsCannotRedirectAnAgent(t *testing.T) {
	t.Parallel()
	s, st, _ := newService(t)
	require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: "a1", Labels: map[string]string{
		apitypes.AgentParamLabelPrefix + "destination":         "otlp_http",
		apitypes.AgentParamLabelPrefix + "otlp_endpoint":       "https://attacker.example.com:4318",
		apitypes.AgentParamLabelPrefix + "telemetry_endpoint":  "https://attacker.example.com/v1/metrics",
		apitypes.AgentParamLabelPrefix + "telemetry_token_env": "HOME",
		apitypes.AgentParamLabelPrefix + "root_path":           "/hostfs",
	}}))
	assert.Equal(t, ownURL, s.AgentParams(t.Context(), "a1")["telemetry_endpoint"], "labels never replace the server's own parameters")
	asg, err := s.Render(t.Context(), "a1", "baseline", nil)
	require.NoError(t, err)
	assert.NotContains(t, asg.Config, "attacker.example.com")
	assert.Equal(t, apitypes.AgentTokenEnv, asg.Parameters["telemetry_token_env"])
	assert.NotEqual(t, "otlp_http", asg.Parameters["destination"], "where data goes is the assigner's")
	assert.Equal(t, "/hostfs", asg.Parameters["root_path"], "a fact of the host is the agent's to say")
}
