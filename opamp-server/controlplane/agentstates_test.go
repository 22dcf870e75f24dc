package controlplane

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store/boltstore"
)

// agentCounts gathers phoenix_agents as {online, config_status} → value.
func agentCounts(t *testing.T, reg *prometheus.Registry) (map[[2]string]float64, error) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	out := map[[2]string]float64{}
	for _, f := range families {
		require.Equal(t, "phoenix_agents", f.GetName())
		for _, m := range f.GetMetric() {
			var k [2]string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "online":
					k[0] = l.GetValue()
				case "config_status":
					k[1] = l.GetValue()
				}
			}
			out[k] = m.GetGauge().GetValue()
		}
	}
	return out, nil
}

func TestAgentStateCollector(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	put := func(uid string, online bool, status apitypes.ConfigStatus) {
		require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: uid, Online: online,
			RemoteConfig: apitypes.RemoteConfigStatus{Status: status}}))
	}
	put("a", true, apitypes.ConfigStatusApplied)
	put("b", true, apitypes.ConfigStatusApplied)
	put("c", false, apitypes.ConfigStatusFailed)
	put("d", true, "")

	c := newAgentStateCollector(st)
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	want := map[[2]string]float64{
		{"true", string(apitypes.ConfigStatusApplied)}: 2,
		{"false", string(apitypes.ConfigStatusFailed)}: 1,
		{"true", string(apitypes.ConfigStatusUnset)}:   1,
	}
	got, err := agentCounts(t, reg)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	put("e", false, apitypes.ConfigStatusApplying)
	got, err = agentCounts(t, reg)
	require.NoError(t, err)
	assert.Equal(t, want, got, "scrapes in quick succession are served from the cache")

	c.mu.Lock()
	c.at = c.at.Add(-time.Minute) // the cache has expired
	c.mu.Unlock()
	want[[2]string{"false", string(apitypes.ConfigStatusApplying)}] = 1
	got, err = agentCounts(t, reg)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	require.NoError(t, st.Close())
	c.mu.Lock()
	c.at = time.Time{}
	c.mu.Unlock()
	_, err = agentCounts(t, reg)
	assert.Error(t, err, "a store failure is reported, not hidden behind zero counts")
}

func TestAgentStateCollectorPagesThroughTheInventory(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "phoenix.db"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, st.Close()) })
	const n = 1001 // one more than a page of 1000
	for i := range n {
		require.NoError(t, st.UpsertAgent(t.Context(), apitypes.Agent{InstanceUID: time.Unix(int64(i), 0).UTC().Format(time.RFC3339)}))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newAgentStateCollector(st))
	got, err := agentCounts(t, reg)
	require.NoError(t, err)
	assert.Equal(t, map[[2]string]float64{{"false", string(apitypes.ConfigStatusUnset)}: n}, got)
}
