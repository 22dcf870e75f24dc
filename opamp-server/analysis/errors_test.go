package analysis

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestAnalyzeInsufficientData(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   func() Input
		want string
	}{
		{"series missing", func() Input {
			a := pairedAgent("a1", 3, baseline, candidate)
			a.in.Samples = without(a.in.Samples, SeriesBytes, apitypes.VariantCandidate)
			return pairedInput(3, a)
		}, `agent a1: no samples of otelcol_processor_cost_meter_bytes{variant="candidate"} in the window [2026-03-01T12:00:00Z, 2026-03-01T12:03:00Z)`},
		{"samples only outside the window", func() Input {
			in := pairedInput(3, pairedAgent("a1", 3, baseline, candidate))
			in.From, in.To = minute(10), minute(20)
			return in
		}, `agent a1: no samples of otelcol_processor_cost_meter_datapoints{variant="baseline"} in the window`},
		{"one minute", func() Input {
			return pairedInput(1, pairedAgent("a1", 1, baseline, candidate))
		}, "agent a1: 1 minute(s) in the window with every series"},
		{"no common minute", func() Input {
			a := newAgent("a1", apitypes.VariantBaseline, apitypes.VariantCandidate).costMeter(apitypes.VariantBaseline, 2, baseline)
			c := newAgent("x", apitypes.VariantCandidate).costMeter(apitypes.VariantCandidate, 4, candidate)
			for _, s := range c.in.Samples {
				if s.Minute.After(minute(1)) {
					s.InstanceUID = "a1"
					a.in.Samples = append(a.in.Samples, s)
				}
			}
			return pairedInput(4, a)
		}, "agent a1: 0 minute(s) in the window with every series"},
		{"split without CPU", func() Input {
			return splitInput(3, apitypes.Criteria{},
				newAgent("b1", apitypes.VariantBaseline).costMeter(apitypes.VariantBaseline, 3, baseline),
				newAgent("c1", apitypes.VariantCandidate).costMeter(apitypes.VariantCandidate, 3, candidate).collector(3, 0.01, 1e8))
		}, "agent b1: no samples of otelcol_process_cpu_seconds in the window"},
		{"paired baseline exported nothing", func() Input {
			return pairedInput(3, pairedAgent("a1", 3, meter{0, 1e6, 1000, 7000, 10}, candidate))
		}, `agent a1: otelcol_processor_cost_meter_datapoints{variant="baseline"} is 0 over the window`},
		{"split baseline cohort idle", func() Input {
			return splitInput(3, apitypes.Criteria{},
				newAgent("b1", apitypes.VariantBaseline).costMeter(apitypes.VariantBaseline, 3, baseline).collector(3, 0, 1e8),
				newAgent("c1", apitypes.VariantCandidate).costMeter(apitypes.VariantCandidate, 3, candidate).collector(3, 0.01, 1e8))
		}, "baseline cohort: otelcol_process_cpu_seconds is 0 over the window"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Analyze(tt.in())
			require.ErrorIs(t, err, ErrInsufficientData)
			assert.NotErrorIs(t, err, ErrInvalidInput)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestAnalyzeNamesEveryAgentWithMissingData(t *testing.T) {
	t.Parallel()
	a1 := pairedAgent("a1", 3, baseline, candidate)
	a1.in.Samples = without(a1.in.Samples, SeriesActiveSeries, apitypes.VariantBaseline)
	a2 := pairedAgent("a2", 3, baseline, candidate)
	a2.in.Samples = without(a2.in.Samples, SeriesCriticalProcesses, apitypes.VariantCandidate)
	_, err := Analyze(pairedInput(3, a1, pairedAgent("a3", 3, baseline, candidate), a2))
	require.ErrorIs(t, err, ErrInsufficientData)
	assert.Contains(t, err.Error(), `agent a1: no samples of otelcol_processor_cost_meter_active_series{variant="baseline"}`)
	assert.Contains(t, err.Error(), `agent a2: no samples of otelcol_processor_cost_meter_critical_processes{variant="candidate"}`)
	assert.NotContains(t, err.Error(), "a3")
}

func TestAnalyzeInvalidInput(t *testing.T) {
	t.Parallel()
	good := func() Input { return pairedInput(3, pairedAgent("a1", 3, baseline, candidate)) }
	tests := []struct {
		name   string
		change func(*Input)
		want   string
	}{
		{"mode", func(in *Input) { in.Mode = "ab" }, `mode: "ab" is not "paired" or "split"`},
		{"window", func(in *Input) { in.From, in.To = in.To, in.From }, "window: from (2026-03-01T12:03:00Z) must be before to"},
		{"no agents", func(in *Input) { in.Agents = nil }, "agents: at least one agent is required"},
		{"no uid", func(in *Input) { in.Agents[0].InstanceUID = "" }, "agents[0]: instance_uid is required"},
		{"duplicate agent", func(in *Input) { in.Agents = append(in.Agents, in.Agents[0]) }, "agents[1]: agent a1 is listed twice"},
		{"paired with one variant", func(in *Input) { in.Agents[0].Variants = []string{apitypes.VariantBaseline} },
			`agent a1: variants: paired mode runs both baseline and candidate, got ["baseline"]`},
		{"unknown variant", func(in *Input) { in.Agents[0].Variants = []string{"baseline", "shadow"} },
			`agent a1: variants: unknown variant "shadow"`},
		{"split cohort empty", func(in *Input) {
			in.Mode = apitypes.ModeSplit
			in.Agents[0].Variants = []string{apitypes.VariantBaseline}
		},
			"agents: split mode needs at least one agent running candidate"},
		{"split agent with both", func(in *Input) { in.Mode = apitypes.ModeSplit },
			"split mode runs exactly one variant"},
		{"foreign sample", func(in *Input) { in.Agents[0].Samples[3].InstanceUID = "a9" }, "agent a1: holds a sample of agent a9"},
		{"NaN sample", func(in *Input) { in.Agents[0].Samples[0].Value = math.NaN() },
			`agent a1: otelcol_processor_cost_meter_datapoints{variant="baseline"} at 2026-03-01T12:00:00Z is NaN`},
		{"series reduction above 1", func(in *Input) { in.Criteria.MinSeriesReduction = 1.5 },
			"criteria: min_series_reduction: must be a fraction in [0, 1], got 1.5"},
		{"retention below 0", func(in *Input) { in.Criteria.MinCriticalRetention = ptr(-0.1) },
			"criteria: min_critical_retention: must be a fraction in [0, 1], got -0.1"},
		{"cpu in paired mode", func(in *Input) { in.Criteria.MaxCPUIncrease = ptr(0.1) },
			"criteria: max_cpu_increase: collector CPU is only compared in split mode"},
		{"unknown price model", func(in *Input) { in.PriceModels = []string{"splunk"} },
			`price_models: unknown model "splunk" (known: new_relic, grafana_cloud, datadog)`},
		{"invalid price table", func(in *Input) { in.Prices = PriceTable{Models: []apitypes.PriceModel{{Name: "x"}}} },
			"price table: models[0] (x): unit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := good()
			tt.change(&in)
			_, err := Analyze(in)
			require.ErrorIs(t, err, ErrInvalidInput)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	t.Run("negative max cpu in split mode", func(t *testing.T) {
		in := splitInput(3, apitypes.Criteria{MaxCPUIncrease: ptr(-1.0)},
			newAgent("b1", apitypes.VariantBaseline).costMeter(apitypes.VariantBaseline, 3, baseline).collector(3, 0.01, 1e8),
			newAgent("c1", apitypes.VariantCandidate).costMeter(apitypes.VariantCandidate, 3, candidate).collector(3, 0.01, 1e8))
		_, err := Analyze(in)
		require.ErrorIs(t, err, ErrInvalidInput)
		assert.Contains(t, err.Error(), "criteria: max_cpu_increase: must be a finite fraction ≥ 0, got -1")
	})
}
