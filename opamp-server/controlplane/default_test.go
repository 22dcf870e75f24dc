package controlplane

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func describe(uid uuid.UUID, labels map[string]string) *protobufs.AgentToServer {
	var kvs []*protobufs.KeyValue
	for k, v := range labels {
		kvs = append(kvs, &protobufs.KeyValue{Key: k, Value: &protobufs.AnyValue{Value: &protobufs.AnyValue_StringValue{StringValue: v}}})
	}
	return &protobufs.AgentToServer{InstanceUid: uid[:], SequenceNum: 1, AgentDescription: &protobufs.AgentDescription{
		IdentifyingAttributes: []*protobufs.KeyValue{{Key: "service.name", Value: &protobufs.AnyValue{
			Value: &protobufs.AnyValue_StringValue{StringValue: "phoenix-collector"}}}},
		NonIdentifyingAttributes: kvs,
	}}
}

func TestNewAgentsGetTheDefaultPipeline(t *testing.T) {
	cfg := testConfig(t)
	cfg.NoAuth = true
	cfg.DefaultPipeline = "topk-rollup"
	cfg.DefaultParameters = map[string]any{"k": 7, "system_metrics": false}
	s := startServer(t, cfg)
	c := newClient(t)

	uid := uuid.New()
	status, resp := c.poll(s, "", describe(uid, map[string]string{
		apitypes.AgentParamLabelPrefix + "health_check_endpoint": "127.0.0.1:13999",
		apitypes.AgentParamLabelPrefix + "memory_limit_mib":      "400",
	}))
	require.Equal(t, http.StatusOK, status)
	require.NotNil(t, resp)
	asg, err := s.Store().GetAssignment(t.Context(), uid.String())
	require.NoError(t, err, "a new agent gets the default pipeline")
	assert.Equal(t, "topk-rollup", asg.Pipeline)
	assert.Equal(t, "default pipeline for new agents", asg.Reason)
	assert.EqualValues(t, 7, asg.Parameters["k"])
	assert.Equal(t, "127.0.0.1:13999", asg.Parameters["health_check_endpoint"], "the agent's label sets what the catalog lets it")
	assert.NotEqualValues(t, 400, asg.Parameters["memory_limit_mib"], "and nothing else")
	assert.Equal(t, uid.String(), asg.Parameters["instance_id"])

	// An agent that already has an assignment keeps it.
	other := uuid.New()
	require.NoError(t, s.Store().UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: other.String()}))
	kept, err := s.Store().SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: other.String(), Pipeline: "", Config: "receivers: {}\n"})
	require.NoError(t, err)
	c.poll(s, "", describe(other, nil))
	after, err := s.Store().GetAssignment(t.Context(), other.String())
	require.NoError(t, err)
	assert.Equal(t, kept.ConfigHash, after.ConfigHash)
}

func TestUnknownDefaultPipelineFailsFast(t *testing.T) {
	cfg := testConfig(t)
	cfg.DefaultPipeline = "no-such-pipeline"
	_, err := New(t.Context(), cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "default_pipeline")
}
