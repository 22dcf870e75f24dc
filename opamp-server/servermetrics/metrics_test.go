package servermetrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMetricsAreRegisteredUnderTheirDocumentedNames(t *testing.T) {
	t.Parallel()
	m := New()
	// Vectors only show up once a series exists.
	m.AgentsConnected.WithLabelValues("websocket").Set(3)
	m.OpAMPMessages.WithLabelValues("health").Inc()
	m.OpAMPErrors.WithLabelValues("read").Inc()
	m.ConfigPushes.Inc()
	m.ConfigOutcomes.WithLabelValues("APPLIED").Add(2)
	m.ConfigRejected.Inc()
	m.OwnTelemetrySamples.Add(10)
	m.AgentInputRejected.WithLabelValues(SourceOpAMP, ReasonBodyTooLarge).Inc()
	m.APIRequestDuration.WithLabelValues("/agents", "GET", "200").Observe(0.01)

	families, err := m.Registry.Gather()
	require.NoError(t, err)
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{
		"phoenix_agents_connected",
		"phoenix_opamp_messages_total",
		"phoenix_opamp_errors_total",
		"phoenix_config_pushes_total",
		"phoenix_config_outcomes_total",
		"phoenix_config_rejected_total",
		"phoenix_own_telemetry_samples_total",
		"phoenix_agent_input_rejected_total",
		"phoenix_api_request_duration_seconds",
		"go_goroutines",
		"process_start_time_seconds",
	} {
		assert.True(t, names[want], "%s is registered", want)
	}
	for name := range names {
		if !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			assert.True(t, strings.HasPrefix(name, "phoenix_"), "%s: the server's own metrics are phoenix_*", name)
		}
	}
}

func TestMetricsCountWhatTheyAreGiven(t *testing.T) {
	t.Parallel()
	m := New()
	m.ConfigOutcomes.WithLabelValues("APPLIED").Add(2)
	m.ConfigOutcomes.WithLabelValues("FAILED").Inc()
	m.AgentsConnected.WithLabelValues("http").Set(4)
	m.AgentsConnected.WithLabelValues("http").Dec()
	assert.InDelta(t, 2, testutil.ToFloat64(m.ConfigOutcomes.WithLabelValues("APPLIED")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(m.ConfigOutcomes.WithLabelValues("FAILED")), 0)
	assert.InDelta(t, 3, testutil.ToFloat64(m.AgentsConnected.WithLabelValues("http")), 0)

	err := testutil.GatherAndCompare(m.Registry, strings.NewReader(`
# HELP phoenix_config_outcomes_total Remote configuration statuses reported by agents.
# TYPE phoenix_config_outcomes_total counter
phoenix_config_outcomes_total{status="APPLIED"} 2
phoenix_config_outcomes_total{status="APPLYING"} 0
phoenix_config_outcomes_total{status="FAILED"} 1
`), "phoenix_config_outcomes_total")
	assert.NoError(t, err)
}

func TestEachServerHasItsOwnRegistry(t *testing.T) {
	t.Parallel()
	a, b := New(), New() // registering twice on a shared registry would panic
	a.ConfigPushes.Inc()
	assert.InDelta(t, 1, testutil.ToFloat64(a.ConfigPushes), 0)
	assert.InDelta(t, 0, testutil.ToFloat64(b.ConfigPushes), 0)
}
