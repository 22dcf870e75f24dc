package costmeter

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/phoenix/platform/processors/contract/processmetrics"
	"github.com/phoenix/platform/processors/costmeter/internal/metadata"
	"github.com/phoenix/platform/processors/internal/goldentest"
)

const testHostMemory = 16 << 30

// blindSpotCase is a testdata/blind_spots/<case>/expected.yaml.
type blindSpotCase struct {
	MaxExamples      int   `mapstructure:"max_examples"`
	NotableProcesses int64 `mapstructure:"notable_processes"`
	Variants         map[string]struct {
		BlindSpots int64         `mapstructure:"blind_spots"`
		Examples   []peakExample `mapstructure:"examples"`
	} `mapstructure:"variants"`
}

type peakExample struct {
	Exe      string  `mapstructure:"exe"`
	Host     string  `mapstructure:"host"`
	Resource string  `mapstructure:"resource"`
	Peak     float64 `mapstructure:"peak"`
}

func fidelityConfig(variant string, maxExamples int) *Config {
	cfg := testConfig(variant)
	cfg.Fidelity.HostMemoryBytes = testHostMemory
	cfg.Fidelity.MaxExamples = maxExamples
	return cfg
}

// collector is a set of cost_meters started on one host, as one collector's
// pipelines, sharing one telemetry.
type collector struct {
	tel    *componenttest.Telemetry
	host   *testHost
	meters map[string]*testMeter
}

func newCollector(t *testing.T) *collector {
	return &collector{tel: shutdownTelemetry(t), host: newTestHost(t), meters: map[string]*testMeter{}}
}

func (c *collector) add(t *testing.T, cfg *Config) *testMeter {
	tm := newTestMeterOnHost(t, cfg, c.tel, component.NewIDWithName(metadata.Type, cfg.Variant), c.host)
	c.meters[cfg.Variant] = tm
	return tm
}

func (c *collector) advance(d time.Duration) {
	for _, tm := range c.meters {
		tm.advance(d)
	}
}

// peaks collects the blind-spot examples, keyed "variant/exe/host/resource".
func (c *collector) peaks(t *testing.T) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	m, err := c.tel.GetMetric("otelcol_processor_cost_meter_blind_spot_peak")
	if err != nil {
		return out // no datapoint at all
	}
	for _, dp := range m.Data.(metricdata.Gauge[float64]).DataPoints {
		get := func(k string) string { v, _ := dp.Attributes.Value(attributeKey(k)); return v.AsString() }
		out[strings.Join([]string{get("variant"), get(processmetrics.AttrExecutableName), get(processmetrics.AttrHostName), get("resource")}, "/")] = dp.Value
	}
	return out
}

// TestBlindSpotsGolden replays each case's scrapes (testdata/blind_spots:
// <variant>_<step>.yaml, the reference being baseline), with the reference's
// batch first and then last, and checks the figures in expected.yaml.
func TestBlindSpotsGolden(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "blind_spots", "*"))
	require.NoError(t, err)
	require.NotEmpty(t, cases)
	for _, dir := range cases {
		cm, err := confmaptest.LoadConf(filepath.Join(dir, "expected.yaml"))
		require.NoError(t, err)
		var want blindSpotCase
		require.NoError(t, cm.Unmarshal(&want))
		inputs := readSteps(t, dir)

		for _, referenceFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/reference_first=%v", filepath.Base(dir), referenceFirst), func(t *testing.T) {
				c := newCollector(t)
				for variant := range inputs {
					c.add(t, fidelityConfig(variant, want.MaxExamples))
				}
				variants := make([]string, 0, len(inputs))
				for v := range inputs {
					variants = append(variants, v)
				}
				sort.Slice(variants, func(i, j int) bool {
					if (variants[i] == "baseline") != (variants[j] == "baseline") {
						return (variants[i] == "baseline") == referenceFirst
					}
					return variants[i] < variants[j]
				})
				for step := range inputs["baseline"] {
					for _, v := range variants {
						c.meters[v].consume(t, goldentest.Read(t, inputs[v][step]))
					}
					c.advance(10 * time.Second)
				}

				// Read first: every collection reports and forgets them.
				got := c.peaks(t)
				assert.Empty(t, c.peaks(t), "examples are forgotten once reported")

				assert.Equal(t, want.NotableProcesses, counter[int64](t, c.tel, "notable_processes", "baseline"))
				_, ok := sumOf[int64](t, c.tel, "blind_spots", "baseline")
				assert.False(t, ok, "the reference has no blind spots")
				wantPeaks := map[string]float64{}
				for v, exp := range want.Variants {
					assert.Equal(t, exp.BlindSpots, counter[int64](t, c.tel, "blind_spots", v), v)
					_, ok := sumOf[int64](t, c.tel, "notable_processes", v)
					assert.False(t, ok, "only the reference counts notable processes")
					for _, e := range exp.Examples {
						wantPeaks[strings.Join([]string{v, e.Exe, e.Host, e.Resource}, "/")] = e.Peak
					}
				}
				require.Len(t, got, len(wantPeaks), "%v", got)
				for k, v := range wantPeaks {
					assert.InEpsilon(t, v, got[k], 1e-9, k)
				}
			})
		}
	}
}

// readSteps lists dir's <variant>_<step>.yaml inputs by variant, in step
// order.
func readSteps(t *testing.T, dir string) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_*.yaml"))
	require.NoError(t, err)
	out := map[string][]string{}
	for _, f := range files {
		variant, _, ok := strings.Cut(strings.TrimSuffix(filepath.Base(f), ".yaml"), "_")
		require.True(t, ok)
		out[variant] = append(out[variant], f)
	}
	for _, fs := range out {
		slices.Sort(fs)
		require.Len(t, fs, len(out["baseline"]), "every variant has a batch per step")
	}
	_, err = os.Stat(filepath.Join(dir, "expected.yaml"))
	require.NoError(t, err)
	return out
}

// replay feeds a case's <variant>_<step>.yaml inputs to c's meters, step by
// step, the variants in the order given; a missing meter is skipped.
func (c *collector) replay(t *testing.T, dir string, variants ...string) {
	t.Helper()
	inputs := readSteps(t, dir)
	for step := range inputs["baseline"] {
		for _, v := range variants {
			if tm := c.meters[v]; tm != nil {
				tm.consume(t, goldentest.Read(t, inputs[v][step]))
			}
		}
		c.advance(10 * time.Second)
	}
}

var (
	pairedCase = filepath.Join("testdata", "blind_spots", "paired")
	multiCase  = filepath.Join("testdata", "blind_spots", "multi_candidate")
)

func TestNoReferenceNoBlindSpots(t *testing.T) {
	c := newCollector(t)
	c.add(t, fidelityConfig("candidate", 5))
	c.replay(t, pairedCase, "candidate")

	assert.Empty(t, c.peaks(t))
	_, ok := sumOf[int64](t, c.tel, "blind_spots", "candidate")
	assert.False(t, ok, "split mode: coverage only")
	_, ok = sumOf[int64](t, c.tel, "notable_processes", "candidate")
	assert.False(t, ok)
	assert.Positive(t, counter[int64](t, c.tel, "memory_rolled_up", "candidate"))
}

func TestReferenceAloneCountsNotableProcesses(t *testing.T) {
	c := newCollector(t)
	c.add(t, fidelityConfig("baseline", 5))
	c.replay(t, pairedCase, "baseline")
	assert.Equal(t, int64(4), counter[int64](t, c.tel, "notable_processes", "baseline"))
	assert.Empty(t, c.peaks(t))
}

// Reading the host's memory fails: only CPU makes a process notable.
func TestUnreadableHostMemoryJudgesCPUOnly(t *testing.T) {
	read := readHostMemory
	t.Cleanup(func() { readHostMemory = read })
	readHostMemory = func() (uint64, error) { return 0, assert.AnError }

	cfg := fidelityConfig("baseline", 5)
	cfg.Fidelity.HostMemoryBytes = 0
	c := newCollector(t)
	c.add(t, cfg)
	c.add(t, fidelityConfig("rollup", 5))
	c.replay(t, multiCase, "baseline", "rollup")
	assert.Equal(t, int64(2), counter[int64](t, c.tel, "notable_processes", "baseline"), "java and python3, not redis-server")
	assert.Equal(t, int64(2), counter[int64](t, c.tel, "blind_spots", "rollup"))
}

// A candidate that skipped a scrape altogether (nothing exported, not even a
// rollup) and went on to the next one missed that scrape's notable processes.
func TestCandidatePastAScrapeMissedIt(t *testing.T) {
	for _, referenceFirst := range []bool{true, false} {
		c := newCollector(t)
		c.add(t, fidelityConfig("baseline", 5))
		full := c.add(t, fidelityConfig("full", 5))
		inputs := readSteps(t, multiCase)
		order := []string{"baseline", "full"}
		if !referenceFirst {
			order = []string{"full", "baseline"}
		}
		for step := range inputs["baseline"] {
			for _, v := range order {
				if v == "full" && step == 0 {
					continue // scrape 1 never reaches this pipeline's end
				}
				c.meters[v].consume(t, goldentest.Read(t, inputs[v][step]))
			}
			c.advance(10 * time.Second)
		}
		assert.Equal(t, int64(1), counter[int64](t, c.tel, "blind_spots", "full"), "redis-server, notable in scrape 1")
		require.NotNil(t, full.m.member)
	}
}

// A process missed in scrape after scrape counts once, until it has not been
// missed for active_series_window.
func TestBlindSpotCountedOnceUntilExpiry(t *testing.T) {
	c := newCollector(t)
	for _, v := range []string{"baseline", "candidate"} {
		cfg := fidelityConfig(v, 5)
		cfg.ActiveSeriesWindow = time.Minute
		c.add(t, cfg)
	}
	big := proc(7, "redis-server")
	big.MemoryRSS = testHostMemory / 4
	small := proc(8, "sh")
	scrape := func(exportBig bool) {
		now := *c.meters["baseline"].now
		c.meters["baseline"].consume(t, scrapeAt(now, big, small))
		md := scrapeAt(now, small)
		if exportBig {
			md = scrapeAt(now, big, small)
		}
		rollup{start: t0, ts: now, members: 1}.appendTo(md)
		c.meters["candidate"].consume(t, md)
		c.advance(10 * time.Second)
	}
	for range 10 {
		scrape(false)
	}
	assert.Equal(t, int64(1), counter[int64](t, c.tel, "blind_spots", "candidate"))
	for range 7 { // exported for 70 s: forgotten as a blind spot
		scrape(true)
	}
	assert.Equal(t, int64(1), counter[int64](t, c.tel, "blind_spots", "candidate"))
	scrape(false)
	assert.Equal(t, int64(2), counter[int64](t, c.tel, "blind_spots", "candidate"))
	assert.Equal(t, int64(1), counter[int64](t, c.tel, "notable_processes", "baseline"))
}

func TestRegistryKeepsFewScrapesAndExpiresHosts(t *testing.T) {
	c := newCollector(t)
	cfg := fidelityConfig("baseline", 5)
	cfg.ActiveSeriesWindow = time.Minute
	ref := c.add(t, cfg)
	reg := ref.m.member.reg
	for i := range 10 {
		now := *ref.now
		ref.consume(t, onHost(scrapeAt(now, proc(1, "a")), "old"))
		ref.consume(t, onHost(scrapeAt(now.Add(time.Millisecond*time.Duration(i)), proc(1, "a")), "new"))
		c.advance(time.Second)
	}
	reg.mu.Lock()
	require.Len(t, reg.hosts, 2)
	assert.Len(t, reg.hosts["old"].scrapes, keepScrapes)
	assert.Len(t, reg.hosts["new"].scrapes, keepScrapes)
	reg.mu.Unlock()

	// "old" stops sending: a window later (in scrape time) it is forgotten.
	for range 8 {
		c.advance(10 * time.Second)
		ref.consume(t, onHost(scrapeAt(*ref.now, proc(1, "a")), "new"))
	}
	reg.mu.Lock()
	assert.NotContains(t, reg.hosts, "old")
	assert.Contains(t, reg.hosts, "new")
	reg.mu.Unlock()
}

func TestExamplesAreBounded(t *testing.T) {
	m := &member{reg: &registry{}, maxExamples: 3, examples: map[exampleKey]example{}}
	for i := range 2 * maxPendingExamples {
		share := float64(i) / 1000
		m.addExample(exampleKey{exe: fmt.Sprint("p", i), resource: resourceCPU}, share, share)
	}
	m.addExample(exampleKey{exe: "p511", resource: resourceCPU}, 0.1, 0.1) // lower than its known peak
	assert.Len(t, m.examples, maxPendingExamples)
	got := m.takeExamples()
	require.Len(t, got, 3)
	assert.Equal(t, []string{"p511", "p510", "p509"}, []string{got[0].key.exe, got[1].key.exe, got[2].key.exe})
	assert.Equal(t, 0.511, got[0].peak)
	assert.Empty(t, m.takeExamples(), "forgotten once reported")

	m.maxExamples = 0
	m.addExample(exampleKey{exe: "x"}, 1, 1)
	assert.Empty(t, m.examples)
}

func TestRegistryMembership(t *testing.T) {
	c := newCollector(t)
	base := c.add(t, fidelityConfig("baseline", 5))
	cand := c.add(t, fidelityConfig("candidate", 5))
	// A second reference in the same collector is left out.
	dup := newTestMeterOnHost(t, fidelityConfig("baseline", 5), c.tel, component.MustNewIDWithName(metadata.Type.String(), "baseline-2"), c.host)
	assert.Nil(t, dup.m.member)
	require.NotNil(t, base.m.member)
	assert.Same(t, base.m.member.reg, cand.m.member.reg)
	assert.True(t, base.m.member.reg.paired.Load())

	// Another collector (host) or another reference: another registry.
	other := newCollector(t)
	assert.NotSame(t, base.m.member.reg, other.add(t, fidelityConfig("candidate", 5)).m.member.reg)
	cfg := fidelityConfig("candidate-2", 5)
	cfg.Fidelity.Reference = "full"
	assert.NotSame(t, base.m.member.reg, c.add(t, cfg).m.member.reg)

	key := base.m.member.reg.key
	require.NoError(t, base.Shutdown(t.Context()))
	assert.False(t, cand.m.member.reg.paired.Load(), "the reference left")
	require.NoError(t, cand.Shutdown(t.Context()))
	require.NoError(t, dup.Shutdown(t.Context()))
	registries.Lock()
	_, ok := registries.m[key]
	registries.Unlock()
	assert.False(t, ok, "the registry goes with its last member")
}

func TestPairedConcurrentBatches(t *testing.T) {
	c := newCollector(t)
	c.add(t, fidelityConfig("baseline", 5))
	c.add(t, fidelityConfig("topk", 5))
	inputs := readSteps(t, multiCase)
	// Within a step, both pipelines' batches race each other and collection;
	// steps stay in order, as scrapes do.
	for step := range inputs["baseline"] {
		var wg sync.WaitGroup
		for _, v := range []string{"baseline", "topk"} {
			md := goldentest.Read(t, inputs[v][step])
			md.MarkReadOnly()
			for range 4 {
				wg.Go(func() {
					for range 5 {
						assert.NoError(t, c.meters[v].ConsumeMetrics(context.Background(), md))
					}
				})
			}
		}
		wg.Go(func() {
			for range 10 {
				c.peaks(t)
			}
		})
		wg.Wait()
	}
	assert.Equal(t, int64(2), counter[int64](t, c.tel, "blind_spots", "topk"))
	assert.Equal(t, int64(3), counter[int64](t, c.tel, "notable_processes", "baseline"))
}

// hostWrapper is what the collector hands each component
// (service/internal/graph.HostWrapper): its one host, embedded, in a
// wrapper of the component's own.
type hostWrapper struct {
	*Host
	instance int
}

// Host stands for the collector's own host type, which the wrapper embeds.
type Host = testHost

// The cost_meters of one collector pair up although each gets its own
// wrapper of the collector's host, and those of another collector do not.
func TestMetersOfOneCollectorPairThroughTheirHostWrappers(t *testing.T) {
	c := newCollector(t)
	shared := c.host
	for i, v := range []string{"baseline", "rollup"} {
		cfg := fidelityConfig(v, 5)
		c.meters[v] = newTestMeterOnHost(t, cfg, c.tel, component.NewIDWithName(metadata.Type, v), &hostWrapper{Host: shared, instance: i})
	}
	other := newTestMeterOnHost(t, fidelityConfig("rollup", 5), shutdownTelemetry(t), component.NewIDWithName(metadata.Type, "other"),
		&hostWrapper{Host: newTestHost(t)})
	require.NotNil(t, c.meters["rollup"].m.member)
	assert.Same(t, c.meters["baseline"].m.member.reg, c.meters["rollup"].m.member.reg, "one registry for the collector")
	assert.NotSame(t, c.meters["rollup"].m.member.reg, other.m.member.reg, "another collector's meters stay apart")

	c.replay(t, multiCase, "baseline", "rollup")
	// The same as meters given one host value count.
	want := newCollector(t)
	want.add(t, fidelityConfig("baseline", 5))
	want.add(t, fidelityConfig("rollup", 5))
	want.replay(t, multiCase, "baseline", "rollup")
	assert.Positive(t, counter[int64](t, want.tel, "blind_spots", "rollup"))
	assert.Equal(t, counter[int64](t, want.tel, "blind_spots", "rollup"), counter[int64](t, c.tel, "blind_spots", "rollup"))
}
