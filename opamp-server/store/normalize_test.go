package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestNormalizeTime(t *testing.T) {
	t.Parallel()
	in := time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.FixedZone("X", -7200))
	got := NormalizeTime(in)
	assert.Equal(t, time.Date(2025, 1, 2, 5, 4, 5, 123456000, time.UTC), got)
	assert.Equal(t, time.UTC, got.Location())
	assert.Equal(t, time.Time{}, NormalizeTime(time.Time{}), "zero stays zero")
}

func TestNormalizeAgentErrorsNameTheField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		agent apitypes.Agent
		field string
	}{
		{apitypes.Agent{}, "agent instance_uid: must not be empty"},
		{apitypes.Agent{InstanceUID: "a", Labels: map[string]string{"k": "\x00"}}, `agent labels["k"]: contains a NUL byte`},
		{apitypes.Agent{InstanceUID: "a", Description: apitypes.AgentDescription{HostName: "\xfe"}}, "agent description.host_name: not valid UTF-8"},
		{apitypes.Agent{InstanceUID: "a", FailedConfigHashes: []string{"\x00"}}, "agent failed_config_hashes"},
		{apitypes.Agent{InstanceUID: "a", Health: &apitypes.Health{Status: "\x00"}}, "agent health.status"},
	}
	for _, tt := range tests {
		_, err := NormalizeAgent(tt.agent)
		require.ErrorIs(t, err, ErrInvalid)
		assert.Contains(t, err.Error(), tt.field)
	}
}

func TestNormalizeAgentCopies(t *testing.T) {
	t.Parallel()
	in := apitypes.Agent{
		InstanceUID:        "a",
		Labels:             map[string]string{"k": "v"},
		Description:        apitypes.AgentDescription{Identifying: map[string]string{}},
		Health:             &apitypes.Health{Status: "ok"},
		FailedConfigHashes: []string{"h"},
	}
	out, err := NormalizeAgent(in)
	require.NoError(t, err)
	assert.Nil(t, out.Description.Identifying, "empty maps become nil")
	out.Labels["k"] = "changed"
	out.Health.Status = "changed"
	out.FailedConfigHashes[0] = "changed"
	assert.Equal(t, "v", in.Labels["k"])
	assert.Equal(t, "ok", in.Health.Status)
	assert.Equal(t, "h", in.FailedConfigHashes[0])
}

func TestNormalizeAssignment(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 999, time.UTC)
	a, err := NormalizeAssignment(apitypes.Assignment{InstanceUID: "a", Config: "x: 1\n", Parameters: map[string]any{}}, now)
	require.NoError(t, err)
	sum := sha256.Sum256([]byte("x: 1\n"))
	assert.Equal(t, hex.EncodeToString(sum[:]), a.ConfigHash, "the hash is filled in")
	assert.Equal(t, NormalizeTime(now), a.AssignedAt)
	assert.Nil(t, a.Parameters)

	_, err = NormalizeAssignment(apitypes.Assignment{InstanceUID: "a", Config: "x", ConfigHash: "nope"}, now)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "config_hash")
}

func TestNormalizeSamples(t *testing.T) {
	t.Parallel()
	m := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	in := []apitypes.Sample{
		{InstanceUID: "a", Name: "n", Minute: m.Add(59 * time.Second), Value: 1},
		{InstanceUID: "b", Name: "n", Minute: m, Value: 2},
		{InstanceUID: "a", Name: "n", Minute: m, Value: 3}, // same key as the first once truncated
	}
	out, err := NormalizeSamples(in)
	require.NoError(t, err)
	assert.Equal(t, []apitypes.Sample{
		{InstanceUID: "a", Name: "n", Minute: m, Value: 3},
		{InstanceUID: "b", Name: "n", Minute: m, Value: 2},
	}, out)

	_, err = NormalizeSamples([]apitypes.Sample{in[0], {InstanceUID: "a", Minute: m}})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "samples[1] name")
}

func TestNormalizeSamplesRefusesNonFiniteValues(t *testing.T) {
	t.Parallel()
	m := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		_, err := NormalizeSamples([]apitypes.Sample{
			{InstanceUID: "a", Name: "n", Minute: m, Value: 1},
			{InstanceUID: "a", Name: "n", Minute: m.Add(time.Minute), Value: v},
		})
		require.ErrorIs(t, err, ErrInvalid, "%v", v)
		assert.Contains(t, err.Error(), "samples[1] value")
	}
}

func TestNormalizeExperiment(t *testing.T) {
	t.Parallel()
	e, err := NormalizeExperiment(Experiment{ID: "e", Status: apitypes.ExperimentRunning, Spec: json.RawMessage(`{"b":1, "a":2}`)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"a":2,"b":1}`, string(e.Spec))
	assert.Equal(t, `{"a":2,"b":1}`, string(e.Spec))

	_, err = NormalizeExperiment(Experiment{ID: "e", Status: "paused", Spec: json.RawMessage(`{}`)})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "experiment status")
}

func TestHashConfig(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("receivers: {}\n"))
	assert.Equal(t, hex.EncodeToString(sum[:]), HashConfig([]byte("receivers: {}\n")))
}

func TestNormalizeSampleQuery(t *testing.T) {
	t.Parallel()
	from := time.Date(2025, 1, 1, 10, 0, 0, 1500, time.FixedZone("X", 3600))
	q, err := NormalizeSampleQuery(SampleQuery{InstanceUID: "a", From: from, To: from.Add(time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, NormalizeTime(from), q.From)
	assert.Equal(t, NormalizeTime(from.Add(time.Hour)), q.To)

	_, err = NormalizeSampleQuery(SampleQuery{From: from, To: from.Add(-time.Nanosecond)})
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "sample query to: before from")
	_, err = NormalizeSampleQuery(SampleQuery{Name: "n\x00"})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestNormalizeExperimentEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 1, 1, 0, 0, 0, 1001, time.UTC)
	ev, err := NormalizeExperimentEvent(apitypes.ExperimentEvent{ExperimentID: "e", Cause: "c"}, now)
	require.NoError(t, err)
	assert.Equal(t, NormalizeTime(now), ev.Time)
	_, err = NormalizeExperimentEvent(apitypes.ExperimentEvent{ExperimentID: "e"}, now)
	require.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "experiment event cause: must not be empty")
}

func TestParameters(t *testing.T) {
	t.Parallel()
	p, err := NormalizeParameters(map[string]any{"n": 3, "s": []string{"a"}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"n": 3.0, "s": []any{"a"}}, p)
	p, err = DecodeParameters([]byte(`{}`))
	require.NoError(t, err)
	assert.Nil(t, p, "an empty document is no parameters")
	_, err = DecodeParameters([]byte(`[1]`))
	assert.ErrorIs(t, err, ErrInvalid, "parameters are an object")
	_, err = NormalizeParameters(map[string]any{"f": func() {}})
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestFilters(t *testing.T) {
	t.Parallel()
	online := true
	a := &apitypes.Agent{InstanceUID: "a", Online: true, Labels: map[string]string{"env": "prod"}}
	assert.True(t, MatchAgent(a, AgentFilter{}))
	assert.True(t, MatchAgent(a, AgentFilter{Online: &online, Labels: map[string]string{"env": "prod"}}))
	assert.False(t, MatchAgent(a, AgentFilter{Labels: map[string]string{"env": ""}}))
	assert.False(t, MatchAgent(&apitypes.Agent{}, AgentFilter{Online: &online}))

	require.NoError(t, ValidateExperimentFilter(ExperimentFilter{Status: []apitypes.ExperimentStatus{apitypes.ExperimentCompleted}}))
	require.ErrorIs(t, ValidateExperimentFilter(ExperimentFilter{Status: []apitypes.ExperimentStatus{"done"}}), ErrInvalid)
	require.ErrorIs(t, ValidateAgentFilter(AgentFilter{Labels: map[string]string{"\x00": ""}}), ErrInvalid)
}

func TestValidateTime(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateTime("t", time.Time{}))
	require.NoError(t, ValidateTime("t", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)))
	err := ValidateTime("before", time.Date(9999, 12, 31, 23, 30, 0, 0, time.FixedZone("W", -3600)))
	require.ErrorIs(t, err, ErrInvalid, "the year counts in UTC")
	assert.Contains(t, err.Error(), "before: ")
}

func TestValidateKey(t *testing.T) {
	t.Parallel()
	require.NoError(t, ValidateKey("id", "x"))
	err := ValidateKey("id", "")
	require.ErrorIs(t, err, ErrInvalid)
	assert.Equal(t, "invalid: id: must not be empty", err.Error())
}
