package processcritical

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/internal/goldentest"
	"github.com/phoenix/platform/processors/processcritical/internal/metadata"
	"github.com/phoenix/platform/processors/processcritical/internal/metadatatest"
)

func newTestProcessor(t *testing.T, cfg *Config, set processor.Settings) (processor.Metrics, *consumertest.MetricsSink) {
	t.Helper()
	sink := &consumertest.MetricsSink{}
	p, err := NewFactory().CreateMetrics(t.Context(), set, cfg, sink)
	require.NoError(t, err)
	return p, sink
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"default_rules", "custom_rules"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			cfg := createDefaultConfig().(*Config)
			if cm, err := confmaptest.LoadConf(filepath.Join(dir, "config.yaml")); err == nil {
				require.NoError(t, cm.Unmarshal(cfg))
			}
			p, sink := newTestProcessor(t, cfg, processortest.NewNopSettings(metadata.Type))
			require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
			defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

			require.NoError(t, p.ConsumeMetrics(t.Context(), goldentest.Read(t, filepath.Join(dir, "input.yaml"))))
			require.Len(t, sink.AllMetrics(), 1)
			goldentest.Compare(t, filepath.Join(dir, "expected.yaml"), sink.AllMetrics()[0])
		})
	}
}

// proc builds a one-process scrape.
func proc(pid int64, exe, cmdline string, start time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	p := processmetrics.Process{PID: pid, ExecutableName: exe, CommandLine: cmdline, Owner: "root", Start: pcommon.NewTimestampFromTime(start)}
	p.AppendTo(md.ResourceMetrics(), pcommon.NewTimestampFromTime(start.Add(time.Minute)))
	return md
}

func ruleOf(t *testing.T, md pmetric.Metrics) string {
	t.Helper()
	v, ok := md.ResourceMetrics().At(0).Resource().Attributes().Get(processmetrics.MarkerCriticalRule)
	if !ok {
		return ""
	}
	return v.Str()
}

func TestReevaluatesOnPIDReuseAndExec(t *testing.T) {
	cfg := &Config{ProcessTTL: time.Minute, Rules: criticalrules.Rules{{Name: "db", ExecutableName: "postgres"}}}
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	md := proc(42, "postgres", "postgres -D /data", t0)
	_, err = p.processMetrics(t.Context(), md)
	require.NoError(t, err)
	assert.Equal(t, "db", ruleOf(t, md))

	// The same PID, started later: a different process.
	md = proc(42, "bash", "bash", t0.Add(time.Hour))
	_, err = p.processMetrics(t.Context(), md)
	require.NoError(t, err)
	assert.Empty(t, ruleOf(t, md), "a reused PID kept the previous process's rule")

	// The same process execs postgres: same PID and start time, new program.
	md = proc(42, "postgres", "postgres -D /data", t0.Add(time.Hour))
	_, err = p.processMetrics(t.Context(), md)
	require.NoError(t, err)
	assert.Equal(t, "db", ruleOf(t, md), "an exec into a critical program was missed")
}

func TestStaleMarkerIsRemoved(t *testing.T) {
	cfg := &Config{ProcessTTL: time.Minute, Rules: criticalrules.Rules{{Name: "db", ExecutableName: "postgres"}}}
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	md := proc(7, "bash", "bash", time.Now())
	md.ResourceMetrics().At(0).Resource().Attributes().PutStr(processmetrics.MarkerCriticalRule, "forged")
	_, err = p.processMetrics(t.Context(), md)
	require.NoError(t, err)
	assert.Empty(t, ruleOf(t, md))
}

func TestEvictsProcessesNotSeenForTTL(t *testing.T) {
	cfg := &Config{ProcessTTL: time.Minute, Rules: DefaultRules()}
	p, err := newProcessor(processortest.NewNopSettings(metadata.Type), cfg)
	require.NoError(t, err)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p.now = func() time.Time { return now }
	for pid := int64(1); pid <= 100; pid++ {
		_, err = p.processMetrics(t.Context(), proc(pid, "bash", "bash", now.Add(-time.Hour)))
		require.NoError(t, err)
	}
	assert.Equal(t, 100, p.tracked)

	now = now.Add(2 * time.Minute)
	_, err = p.processMetrics(t.Context(), proc(500, "bash", "bash", now.Add(-time.Hour)))
	require.NoError(t, err)
	assert.Equal(t, 1, p.tracked, "processes unseen for longer than process_ttl must be evicted")
}

func TestConcurrentConsumers(t *testing.T) {
	p, sink := newTestProcessor(t, createDefaultConfig().(*Config), processortest.NewNopSettings(metadata.Type))
	require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				exe := "bash"
				if i%5 == 0 {
					exe = "postgres"
				}
				assert.NoError(t, p.ConsumeMetrics(context.Background(), proc(int64(g*1000+i), exe, exe, time.Now())))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, p.Shutdown(context.Background()))
	marked := 0
	for _, md := range sink.AllMetrics() {
		if ruleOf(t, md) == "databases" {
			marked++
		}
	}
	assert.Equal(t, 8*10, marked)
}

type recorder struct {
	mu      sync.Mutex
	source  component.ID
	records []decision.Record
}

func (r *recorder) RecordDecisions(source component.ID, records []decision.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.source, r.records = source, records
}

func (*recorder) Start(context.Context, component.Host) error { return nil }
func (*recorder) Shutdown(context.Context) error              { return nil }

type hostWith struct{ ext component.Component }

func (h hostWith) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{component.MustNewID("processz"): h.ext}
}

func TestReportsDecisionsAndTelemetry(t *testing.T) {
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tel.Shutdown(context.Background())) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.ID = component.NewIDWithName(metadata.Type, "candidate")

	p, _ := newTestProcessor(t, createDefaultConfig().(*Config), set)
	rec := &recorder{}
	require.NoError(t, p.Start(t.Context(), hostWith{rec}))
	input := goldentest.Read(t, filepath.Join("testdata", "default_rules", "input.yaml"))
	require.NoError(t, p.ConsumeMetrics(t.Context(), input))
	require.NoError(t, p.Shutdown(context.Background()))

	assert.Equal(t, set.ID, rec.source)
	assert.ElementsMatch(t, []decision.Record{
		{PID: 812, Executable: "postgres", Outcome: decision.Critical, Rule: "databases"},
		{PID: 901, Executable: "nginx", Outcome: decision.Critical, Rule: "web-servers"},
	}, rec.records)

	metadatatest.AssertEqualProcessorProcessCriticalProcesses(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 5}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessCriticalProcessesMarked(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 2}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorProcessCriticalTracked(t, tel,
		[]metricdata.DataPoint[int64]{{Value: 5}}, metricdatatest.IgnoreTimestamp())
}
