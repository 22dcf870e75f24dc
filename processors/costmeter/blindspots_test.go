package costmeter

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
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
