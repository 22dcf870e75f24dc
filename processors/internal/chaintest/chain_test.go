package chaintest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/contract/decision"
	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/costmeter"
	"github.com/phoenix/platform/processors/processcritical"
	"github.com/phoenix/platform/processors/processrollup"
	"github.com/phoenix/platform/processors/processtopk"
	"github.com/phoenix/platform/receivers/processsim/population"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// scrapeInterval is the simulated scrape interval.
const scrapeInterval = 10 * time.Second

// maxKept is process_topk's max_kept in testdata/chain.yaml: the hard bound on
// the non-critical processes the chain exports as their own resources.
const maxKept = 30

// Names of the process_topk instances in testdata/chain.yaml.
const (
	topkRollup = ""     // others: rollup
	topkDrop   = "drop" // others: drop
)

// chain is Phoenix's processor chain, built from the real factories and
// wired consumer to consumer: process_critical → process_topk →
// process_rollup → cost_meter → out.
type chain struct {
	// in is the chain's entry, process_critical.
	in consumer.Metrics
	// decisions receives every processor's decision records, as the processz
	// extension would; nil when not recording.
	decisions *decisions
	// telemetry is cost_meter's internal telemetry.
	telemetry *componenttest.Telemetry
	built     []processor.Metrics
	shut      bool
}

// chainOptions choose what newChain builds.
type chainOptions struct {
	// topk names the process_topk instance of testdata/chain.yaml:
	// topkRollup or topkDrop.
	topk string
	// record gives the processors a decision recorder, as a collector with
	// the processz extension does.
	record bool
	// stages builds only the first stages processors (0: all four), to time
	// a prefix of the chain.
	stages int
}

// newChain builds and starts the chain configured by testdata/chain.yaml,
// handing its output to out. Cleanup shuts it down.
func newChain(tb testing.TB, opts chainOptions, out consumer.Metrics) *chain {
	tb.Helper()
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "chain.yaml"))
	require.NoError(tb, err)
	topk := processtopk.NewFactory()
	stages := []struct {
		factory processor.Factory
		id      component.ID
	}{
		{processcritical.NewFactory(), component.NewID(processcritical.NewFactory().Type())},
		{topk, component.NewIDWithName(topk.Type(), opts.topk)},
		{processrollup.NewFactory(), component.NewID(processrollup.NewFactory().Type())},
		{costmeter.NewFactory(), component.NewID(costmeter.NewFactory().Type())},
	}
	if opts.stages > 0 {
		stages = stages[:opts.stages]
	}

	c := &chain{telemetry: componenttest.NewTelemetry(), built: make([]processor.Metrics, len(stages))}
	next := out
	for i := len(stages) - 1; i >= 0; i-- {
		s := stages[i]
		cfg := s.factory.CreateDefaultConfig()
		sub, err := cm.Sub(s.id.String())
		require.NoError(tb, err)
		require.NoError(tb, sub.Unmarshal(cfg))
		require.NoError(tb, confmap.Validate(cfg), "%s", s.id)

		set := processortest.NewNopSettings(s.factory.Type())
		set.ID = s.id
		if s.factory.Type() == costmeter.NewFactory().Type() {
			set.TelemetrySettings = c.telemetry.NewTelemetrySettings()
		}
		p, err := s.factory.CreateMetrics(context.Background(), set, cfg, next)
		require.NoError(tb, err, "%s", s.id)
		c.built[i], next = p, p
	}
	var host component.Host = componenttest.NewNopHost()
	if opts.record {
		c.decisions = &decisions{latest: map[component.ID][]decision.Record{}}
		host = hostWith{c.decisions}
	}
	for _, p := range c.built {
		require.NoError(tb, p.Start(context.Background(), host))
	}
	tb.Cleanup(func() { c.shutdown(tb) })
	c.in = c.built[0]
	return c
}

// shutdown stops the chain from the entry on, as a collector does, once.
func (c *chain) shutdown(tb testing.TB) {
	tb.Helper()
	if c.shut {
		return
	}
	c.shut = true
	for _, p := range c.built {
		require.NoError(tb, p.Shutdown(context.Background()))
	}
	require.NoError(tb, c.telemetry.Shutdown(context.Background()))
}

// feed runs one scrape through the chain and returns a copy of what went in
// and the one batch that came out into sink, which it empties.
func (c *chain) feed(t *testing.T, sink *consumertest.MetricsSink, md pmetric.Metrics) (input, output pmetric.Metrics) {
	t.Helper()
	input = pmetric.NewMetrics()
	md.CopyTo(input)
	require.NoError(t, c.in.ConsumeMetrics(t.Context(), md))
	require.Len(t, sink.AllMetrics(), 1, "one batch in, one batch out")
	output = sink.AllMetrics()[0]
	sink.Reset()
	return input, output
}

// decisions is a stand-in for the processz extension: it keeps each
// processor's latest decision records.
type decisions struct {
	mu     sync.Mutex
	latest map[component.ID][]decision.Record
}

func (d *decisions) RecordDecisions(source component.ID, records []decision.Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.latest[source] = records
}

// outcomes returns, per process, the outcome the processors of type typ
// recorded for the latest batch.
func (d *decisions) outcomes(typ component.Type) map[processmetrics.Key]decision.Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[processmetrics.Key]decision.Record{}
	for id, records := range d.latest {
		if id.Type() != typ {
			continue
		}
		for _, r := range records {
			out[processmetrics.Key{Host: r.Host, PID: r.PID}] = r
		}
	}
	return out
}

func (*decisions) Start(context.Context, component.Host) error { return nil }
func (*decisions) Shutdown(context.Context) error              { return nil }

// hostWith is a collector host whose only extension is ext.
type hostWith struct{ ext component.Component }

func (h hostWith) GetExtensions() map[component.ID]component.Component {
	return map[component.ID]component.Component{component.MustNewID("processz"): h.ext}
}

// simHost is one simulated host: its population and the host.name that the
// resource_detection processor would add before the chain ("" for none, as
// with a local scraper alone).
type simHost struct {
	name string
	pop  *population.Population
}

func newSimHost(tb testing.TB, name string, spec population.Spec, seed uint64) *simHost {
	tb.Helper()
	pop, err := population.New(spec, seed, t0)
	require.NoError(tb, err)
	return &simHost{name: name, pop: pop}
}

// scrape advances the population to at and renders it as one scrape.
func (h *simHost) scrape(at time.Time) pmetric.Metrics {
	md := h.pop.Scrape(at)
	if h.name != "" {
		rms := md.ResourceMetrics()
		for i := 0; i < rms.Len(); i++ {
			rms.At(i).Resource().Attributes().PutStr(processmetrics.AttrHostName, h.name)
		}
	}
	return md
}

// scrapeAt is the time of the n-th scrape (the first is n = 1).
func scrapeAt(n int) time.Time { return t0.Add(time.Duration(n) * scrapeInterval) }
