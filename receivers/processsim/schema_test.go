package processsim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

// schema is everything about a process scrape's shape that consumers rely
// on, with the values left out.
type schema struct {
	// Metrics maps a metric name to its definition: type, unit,
	// description, monotonicity, temporality, value type, and its datapoint
	// attributes with the values seen.
	Metrics map[string]string
	// Resource maps each resource attribute key to its value type.
	Resource map[string]string
	Scopes   map[string]bool
	Schemas  map[string]bool
}

func schemaOf(t *testing.T, md pmetric.Metrics) schema {
	t.Helper()
	s := schema{Metrics: map[string]string{}, Resource: map[string]string{}, Scopes: map[string]bool{}, Schemas: map[string]bool{}}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		s.Schemas[rm.SchemaUrl()] = true
		for k, v := range rm.Resource().Attributes().All() {
			s.Resource[k] = v.Type().String()
		}
		var stamp, start pcommon.Timestamp
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			s.Scopes[sms.At(j).Scope().Name()] = true
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				require.Equal(t, pmetric.MetricTypeSum, m.Type(), "metric %s", m.Name())
				sum := m.Sum()
				attrs := map[string]map[string]bool{}
				valueTypes := map[string]bool{}
				for _, dp := range sum.DataPoints().All() {
					valueTypes[dp.ValueType().String()] = true
					for ak, av := range dp.Attributes().All() {
						if attrs[ak] == nil {
							attrs[ak] = map[string]bool{}
						}
						attrs[ak][av.AsString()] = true
					}
					// All points of one process share its stamp and its
					// creation time as start, which precedes the stamp.
					if stamp == 0 {
						stamp, start = dp.Timestamp(), dp.StartTimestamp()
					}
					assert.Equal(t, stamp, dp.Timestamp(), "points of one process share a timestamp")
					assert.Equal(t, start, dp.StartTimestamp(), "points of one process share a start time")
					assert.LessOrEqual(t, start, stamp, "a process starts before it is scraped")
				}
				def := fmt.Sprintf("type=%s unit=%q description=%q monotonic=%t temporality=%s values=%s attributes=%s",
					m.Type(), m.Unit(), m.Description(), sum.IsMonotonic(), sum.AggregationTemporality(),
					keys(valueTypes), describeAttributes(attrs))
				if prev, ok := s.Metrics[m.Name()]; ok && prev != def {
					// The same metric must not change shape between processes;
					// keep the union of attribute values seen.
					require.Equal(t, strings.Split(prev, " attributes=")[0], strings.Split(def, " attributes=")[0], "metric %s", m.Name())
				}
				s.Metrics[m.Name()] = def
			}
		}
		assert.NotZero(t, stamp, "every process has points")
	}
	return s
}

func describeAttributes(attrs map[string]map[string]bool) string {
	parts := make([]string, 0, len(attrs))
	for k, values := range attrs {
		parts = append(parts, k+"="+keys(values))
	}
	sort.Strings(parts)
	return "{" + strings.Join(parts, " ") + "}"
}

func keys(m map[string]bool) string {
	return strings.Join(slices.Sorted(maps.Keys(m)), ",")
}

// realProcessScrape scrapes this machine's processes once with the contrib
// host_metrics receiver's process scraper, configured as Phoenix runs it.
func realProcessScrape(t *testing.T) pmetric.Metrics {
	t.Helper()
	factory := hostmetricsreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig()
	require.NoError(t, confmap.NewFromStringMap(map[string]any{
		"collection_interval": "1h", // the controller scrapes once at start
		"scrapers": map[string]any{"process": map[string]any{
			"mute_process_exe_error":  true,
			"mute_process_io_error":   true,
			"mute_process_user_error": true,
			"mute_process_name_error": true,
		}},
	}).Unmarshal(cfg))

	sink := new(consumertest.MetricsSink)
	rcv, err := factory.CreateMetrics(t.Context(), receivertest.NewNopSettings(factory.Type()), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, rcv.Start(t.Context(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, rcv.Shutdown(context.Background())) }()
	require.Eventually(t, func() bool { return len(sink.AllMetrics()) > 0 }, 30*time.Second, 20*time.Millisecond,
		"the host_metrics process scraper produced nothing")

	md := sink.AllMetrics()[0]
	require.Positive(t, md.ResourceMetrics().Len())
	return md
}

// TestSchemaMatchesTheRealScraper keeps process_sim from drifting away from
// the real thing: a scrape of this machine by the host_metrics process scraper
// and a simulated one must define the same metrics, datapoint attributes,
// resource attributes, scope and schema URL.
func TestSchemaMatchesTheRealScraper(t *testing.T) {
	real := schemaOf(t, realProcessScrape(t))

	s, clock := startedScraper(t, configFor(profiles.Realistic, 1))
	sim := schemaOf(t, scrapeAt(t, s, clock, t0.Add(10*time.Second)))

	assert.Equal(t, real.Metrics, sim.Metrics)
	assert.Equal(t, real.Resource, sim.Resource)
	assert.Equal(t, real.Scopes, sim.Scopes)
	assert.Equal(t, real.Schemas, sim.Schemas)
	// The contract package names what the scraper emits; keep it honest too.
	assert.Contains(t, real.Scopes, processmetrics.ScopeName)
	assert.Contains(t, real.Resource, processmetrics.AttrPID)
}
