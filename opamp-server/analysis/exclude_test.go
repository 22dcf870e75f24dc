package analysis

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// fleet is n paired agents a00…, each with minutes [0, 3).
func fleet(n int) []*agent {
	out := make([]*agent, n)
	for i := range out {
		out[i] = pairedAgent(fmt.Sprintf("a%02d", i), 3, baseline, candidate)
	}
	return out
}

// Over a fleet, an agent whose collector did not report is left out of the
// figures, and the results say which and why, rather than failing the
// experiment of every other agent.
func TestAnalyzeLeavesOutATargetWithoutData(t *testing.T) {
	t.Parallel()
	bad := func(n int) []*agent {
		agents := fleet(n)
		agents[3].in.Samples = nil                                                  // reported nothing
		agents[7] = pairedAgent("a07", 3, meter{0, 1e6, 1000, 7000, 10}, candidate) // a baseline that exported nothing
		return agents
	}
	_, err := Analyze(pairedInput(3, bad(19)...)) // 19 targets: none may be left out
	require.ErrorIs(t, err, ErrInsufficientData)
	assert.ErrorContains(t, err, "agent a03: no samples of")
	assert.ErrorContains(t, err, "agent a07: otelcol_processor_cost_meter_datapoints")
	assert.NotContains(t, err.Error(), "may be left out", "a small experiment's message names its agents only")

	_, err = Analyze(pairedInput(3, bad(32)...)) // 32 targets: one may be
	require.ErrorIs(t, err, ErrInsufficientData, "two is over 5%% of 32")
	assert.ErrorContains(t, err, "2 of 32 targets lack data; at most 1 (5%) may be left out")

	agents := bad(20)
	agents[7] = pairedAgent("a07", 3, baseline, candidate)
	res, err := Analyze(pairedInput(3, agents...))
	require.NoError(t, err)
	assert.Equal(t, 20, res.Targets)
	assert.Equal(t, 1, res.Excluded)
	require.Len(t, res.ExcludedAgents, 1)
	assert.Equal(t, "a03", res.ExcludedAgents[0].InstanceUID)
	assert.Contains(t, res.ExcludedAgents[0].Reason, "no samples of otelcol_processor_cost_meter_datapoints")
	assert.Len(t, res.Agents, 19)
	assert.Equal(t, 19, res.Variants[0].Agents)
	require.NotEmpty(t, res.Warnings)
	assert.Contains(t, res.Warnings[0], "1 of 20 targets left out of the figures for want of data (a03; see excluded_agents)")
	assert.InDelta(t, 0.9, res.Derived.SeriesReduction.Value, 1e-9, "the figures are those of the others")
}

// The agent left out for a zero baseline is caught after its figures.
func TestAnalyzeLeavesOutAZeroBaseline(t *testing.T) {
	t.Parallel()
	agents := fleet(20)
	agents[5] = pairedAgent("a05", 3, meter{0, 1e6, 1000, 7000, 10}, candidate)
	res, err := Analyze(pairedInput(3, agents...))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Excluded)
	assert.Equal(t, "a05", res.ExcludedAgents[0].InstanceUID)
	assert.Contains(t, res.ExcludedAgents[0].Reason, "is 0 over the window")
	for _, a := range res.Agents {
		assert.NotEqual(t, "a05", a.InstanceUID)
	}
}

// Split mode needs figures of each variant: leaving out its only candidate
// fails, whatever the share.
func TestAnalyzeSplitNeedsEachVariant(t *testing.T) {
	t.Parallel()
	var agents []*agent
	for i := range 19 {
		agents = append(agents, newAgent(fmt.Sprintf("b%02d", i), apitypes.VariantBaseline).
			costMeter(apitypes.VariantBaseline, 3, baseline).collector(3, 0.01, 1e8))
	}
	agents = append(agents, newAgent("c00", apitypes.VariantCandidate))
	_, err := Analyze(splitInput(3, apitypes.Criteria{}, agents...))
	require.ErrorIs(t, err, ErrInsufficientData)
	assert.ErrorContains(t, err, "no agent running candidate has data enough for figures (1 targets left out)")
}

// Many agents' warnings and exclusions are named up to a bound.
func TestAnalyzeBoundsWhatItLists(t *testing.T) {
	t.Parallel()
	agents := fleet(400)
	for i := range 15 {
		agents[i].in.Samples = nil
	}
	for _, a := range agents[15:40] { // counters restart at minute 1
		for j, s := range a.in.Samples {
			if s.Name == SeriesDatapoints && s.Minute.Equal(minute(1)) {
				a.in.Samples[j].Value = 0
			}
		}
	}
	res, err := Analyze(pairedInput(3, agents...))
	require.NoError(t, err)
	assert.Equal(t, 15, res.Excluded)
	assert.Len(t, res.ExcludedAgents, maxListed)
	assert.Contains(t, res.Warnings[0], "15 of 400 targets left out")
	assert.Contains(t, res.Warnings[0], " and 5 more; see excluded_agents")
	assert.Len(t, res.Warnings, 1+maxListed+1)
	assert.Equal(t, "and 15 more warnings like these", res.Warnings[len(res.Warnings)-1])
}
