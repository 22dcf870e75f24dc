package apitypes

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestDurationReadsAndWritesTenM(t *testing.T) {
	t.Parallel()
	var spec struct {
		D Duration `json:"d" yaml:"d"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"d": "10m"}`), &spec))
	assert.Equal(t, 10*time.Minute, spec.D.D())
	require.NoError(t, json.Unmarshal([]byte(`{"d": 90}`), &spec), "a number is seconds")
	assert.Equal(t, 90*time.Second, spec.D.D())
	require.NoError(t, yaml.Unmarshal([]byte("d: ' 2m30s '\n"), &spec))
	assert.Equal(t, 150*time.Second, spec.D.D())

	out, err := json.Marshal(spec)
	require.NoError(t, err)
	assert.JSONEq(t, `{"d": "2m30s"}`, string(out))
	y, err := yaml.Marshal(spec)
	require.NoError(t, err)
	assert.Equal(t, "d: 2m30s\n", string(y))

	assert.ErrorContains(t, json.Unmarshal([]byte(`{"d": "soon"}`), &spec), `duration "soon"`)
	assert.ErrorContains(t, json.Unmarshal([]byte(`{"d": true}`), &spec), "a number of seconds")
	assert.Error(t, yaml.Unmarshal([]byte("d: soon\n"), &spec))
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	var terminal []ExperimentStatus
	for _, s := range ExperimentStatuses() {
		if s.Terminal() {
			terminal = append(terminal, s)
		}
	}
	assert.Equal(t, []ExperimentStatus{ExperimentCompleted, ExperimentFailed, ExperimentCancelled}, terminal)
	assert.False(t, ExperimentStatus("bogus").Terminal())
	assert.Len(t, ExperimentStatuses(), 7)
}

func TestApplyRetryPredicates(t *testing.T) {
	t.Parallel()
	a := Agent{ApplyRetry: &ApplyRetry{Hash: "h", Attempts: 1, Limit: 3}}
	assert.True(t, a.Retrying("h"))
	assert.False(t, a.Retrying(""), "no hash is never retried")
	assert.False(t, a.Retrying("other"))
	a.RemoteConfig = RemoteConfigStatus{Hash: "older", Status: ConfigStatusApplied}
	assert.True(t, a.AwaitingRetry("h"), "the agent rolled back: the re-send is still due")
	a.RemoteConfig = RemoteConfigStatus{Hash: "h", Status: ConfigStatusApplying}
	assert.False(t, a.AwaitingRetry("h"), "the re-sent copy is being applied")
	a.RemoteConfig.Status = ConfigStatusFailed
	assert.True(t, a.AwaitingRetry("h"))
}

func TestVariantName(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "topk", Variant{Pipeline: "topk"}.Name())
	assert.Equal(t, "each agent's current configuration", Variant{Current: true}.Name())
}

func TestResultsVariant(t *testing.T) {
	t.Parallel()
	r := Results{Variants: []VariantFigures{{Figures: Figures{Variant: VariantBaseline}, Agents: 2}}}
	v, ok := r.Variant(VariantBaseline)
	assert.True(t, ok)
	assert.Equal(t, 2, v.Agents)
	_, ok = r.Variant(VariantCandidate)
	assert.False(t, ok)
}
