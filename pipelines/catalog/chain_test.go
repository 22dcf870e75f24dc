package catalog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/pipelines/distribution"
	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// TestCriticalOnlyKeepsOnlyCriticalProcesses runs critical-only's own
// processors, configured as rendered, over one scrape: its filter and
// transform are generic components whose conditions the catalog writes.
func TestCriticalOnlyKeepsOnlyCriticalProcesses(t *testing.T) {
	t.Parallel()
	c := shipped(t)
	r, err := c.Render(t.Context(), "critical-only", map[string]any{
		"critical_rules": []any{map[string]any{"name": "db", "executable_name": "postgres"}},
	})
	require.NoError(t, err)
	p, err := c.Get("critical-only")
	require.NoError(t, err)

	md := pmetric.NewMetrics()
	ts := pcommon.NewTimestampFromTime(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	for i, name := range []string{"postgres", "bash", "postgres-exporter"} {
		proc := processmetrics.Process{PID: int64(100 + i), ExecutableName: name, Start: ts, MemoryRSS: 1 << 20}
		proc.AppendTo(md.ResourceMetrics(), ts)
	}
	host := md.ResourceMetrics().AppendEmpty() // system metrics: no process.pid
	host.Resource().Attributes().PutStr("host.name", "h1")
	host.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty().SetEmptyGauge().DataPoints().AppendEmpty().SetIntValue(1)

	out := runChain(t, r.Config, p.Processors, md)
	require.Equal(t, 2, out.ResourceMetrics().Len())
	pg := out.ResourceMetrics().At(0).Resource().Attributes()
	name, _ := pg.Get(processmetrics.AttrExecutableName)
	assert.Equal(t, "postgres", name.Str())
	assert.Equal(t, 4, out.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().Len(), "a kept process keeps all its metrics")
	_, marked := pg.Get(processmetrics.MarkerCriticalRule)
	assert.False(t, marked, "the internal marker is removed")
	hostName, _ := out.ResourceMetrics().At(1).Resource().Attributes().Get("host.name")
	assert.Equal(t, "h1", hostName.Str(), "resources that are no processes pass")
}

// runChain builds the processors ids from a rendered configuration with the
// distribution's factories, runs md through them in order and returns what
// comes out.
func runChain(t *testing.T, config []byte, ids []string, md pmetric.Metrics) pmetric.Metrics {
	t.Helper()
	cfg := confmap.NewFromStringMap(parse(t, config))
	factories, err := distribution.Components()
	require.NoError(t, err)
	sink := new(consumertest.MetricsSink)
	var next consumer.Metrics = sink
	for i := len(ids) - 1; i >= 0; i-- {
		var id component.ID
		require.NoError(t, id.UnmarshalText([]byte(ids[i])))
		factory, ok := factories.Processors[id.Type()]
		require.True(t, ok, "no factory for %s", id)
		pcfg := factory.CreateDefaultConfig()
		sub, err := cfg.Sub("processors::" + ids[i])
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(pcfg))
		set := processortest.NewNopSettings(id.Type())
		set.ID = id
		proc, err := factory.CreateMetrics(t.Context(), set, pcfg, next)
		require.NoError(t, err)
		require.NoError(t, proc.Start(t.Context(), componenttest.NewNopHost()))
		t.Cleanup(func() { assert.NoError(t, proc.Shutdown(t.Context())) })
		next = proc
	}
	require.NoError(t, next.ConsumeMetrics(t.Context(), md))
	all := sink.AllMetrics()
	require.Len(t, all, 1)
	return all[0]
}
