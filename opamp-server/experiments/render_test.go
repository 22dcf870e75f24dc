package experiments

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

func TestBaselineCurrentUsesEachAgentsPreviousAssignment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	test := map[string]string{"env": "test"}
	before := f.catalogAgent("a1", test, "topk", map[string]any{"k": 7, "collection_interval": "15s", "system_metrics": false})
	f.catalogAgent("a2", test, "critical-only", map[string]any{"memory_limit_mib": 256, "system_metrics": false})

	spec := validSpec(apitypes.ModePaired)
	spec.Baseline = apitypes.Variant{Current: true}
	spec.Parameters = nil
	spec.Candidate.Parameters = map[string]any{"k": 3}
	x := f.deployed(spec)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)

	a1 := parseConfig(t, f.assigned("a1").Config)
	assert.Equal(t, 7, a1.at("processors", "process_topk/baseline", "k"), "the baseline arm is a1's topk with its own k")
	assert.Equal(t, 3, a1.at("processors", "process_topk/candidate", "k"))
	assert.Equal(t, "15s", a1.at("receivers", "host_metrics/process", "collection_interval"), "a1's collector parameters are kept")
	assert.Nil(t, a1.at("receivers", "host_metrics/system"), "so is system_metrics: false")
	assert.Equal(t, "baseline", a1.at("processors", "cost_meter/baseline", "variant"))

	a2 := parseConfig(t, f.assigned("a2").Config)
	assert.Nil(t, a2.at("processors", "process_topk/baseline"), "a2's baseline is its own critical-only pipeline")
	assert.NotNil(t, a2.at("processors", "process_critical/baseline"))
	assert.Equal(t, 256, a2.at("processors", "memory_limiter", "limit_mib"))
	assert.Equal(t, "30s", a2.at("receivers", "host_metrics/process", "collection_interval"))

	// Promoted, the candidate keeps each agent's collector parameters.
	for _, tg := range x.State.Targets {
		f.report(tg.InstanceUID, tg.ConfigHash, apitypes.ConfigStatusApplied, "")
	}
	f.c.ReconcileAll(t.Context())
	f.advance(3 * time.Minute)
	f.c.ReconcileAll(t.Context())
	f.c.ReconcileAll(t.Context())
	require.Equal(t, apitypes.ExperimentCompleted, f.get(x.ID).Status)
	_, err := f.c.Promote(t.Context(), x.ID)
	require.NoError(t, err)
	promoted := f.assigned("a1")
	assert.Equal(t, "topk-rollup", promoted.Pipeline)
	assert.EqualValues(t, 3, promoted.Parameters["k"])
	assert.Equal(t, "topk-rollup", promoted.Parameters["variant"], "labelled as itself, not as an experiment's variant")
	cfg := parseConfig(t, promoted.Config)
	assert.Equal(t, "15s", cfg.at("receivers", "host_metrics/process", "collection_interval"))
	assert.Nil(t, cfg.at("receivers", "host_metrics/system"))
	_, err = f.c.Rollback(t.Context(), x.ID)
	require.NoError(t, err)
	assert.Equal(t, before.ConfigHash, f.assigned("a1").ConfigHash)
}

func TestBaselineCurrentRefusesAVerbatimAssignment(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("verbatim", map[string]string{"env": "test"})
	// f.agent's assignment names a pipeline but is verbatim text; make it
	// plainly verbatim.
	before, err := f.st.SetAssignment(t.Context(), apitypes.Assignment{InstanceUID: "verbatim", Config: "receivers: {}\n", Reason: "by hand"})
	require.NoError(t, err)

	spec := validSpec(apitypes.ModePaired)
	spec.Baseline = apitypes.Variant{Current: true}
	x := f.deployed(spec)
	assert.Equal(t, apitypes.ExperimentFailed, x.Status)
	assert.Contains(t, x.State.Error, "agent verbatim")
	assert.Contains(t, x.State.Error, "verbatim configuration, not a catalog pipeline")
	assert.Empty(t, x.State.Targets, "nothing was deployed")
	assert.Equal(t, before.Generation, f.assigned("verbatim").Generation, "the agent's assignment is untouched")
}

func TestCandidateExport(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.agent("a1", map[string]string{"env": "test"})
	f.agent("a2", map[string]string{"env": "shadow"})

	exported := validSpec(apitypes.ModePaired)
	exported.Parameters["destination"] = "prometheus"
	exported.Candidate.Export = true
	x := f.deployed(exported)
	require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
	cfg := parseConfig(t, f.assigned("a1").Config)
	assert.Equal(t, []any{"prometheus"}, cfg.at("service", "pipelines", "metrics/candidate", "exporters"))
	assert.Equal(t, []any{"prometheus"}, cfg.at("service", "pipelines", "metrics/baseline", "exporters"))

	shadow := exported
	shadow.Targets.Selector = "env=shadow"
	shadow.Candidate.Export = false
	y := f.deployed(shadow)
	require.Equal(t, apitypes.ExperimentDeploying, y.Status, y.State.Error)
	cfg = parseConfig(t, f.assigned("a2").Config)
	assert.Equal(t, []any{"nop"}, cfg.at("service", "pipelines", "metrics/candidate", "exporters"), "a shadow exports nothing")
	assert.Equal(t, []any{"prometheus"}, cfg.at("service", "pipelines", "metrics/baseline", "exporters"))
}

func TestCriticalProcessesReachBothCostMeters(t *testing.T) {
	t.Parallel()
	rules := []apitypes.CriticalRule{{Name: "db", ExecutableName: "postgres"}, {Name: "edge", CommandLine: ".*nginx: master.*"}}
	want := []any{
		map[string]any{"name": "db", "executable_name": "postgres"},
		map[string]any{"name": "edge", "command_line": ".*nginx: master.*"},
	}
	for _, mode := range []apitypes.Mode{apitypes.ModePaired, apitypes.ModeSplit} {
		t.Run(string(mode), func(t *testing.T) {
			f := newFixture(t)
			f.agent("a1", map[string]string{"env": "test"})
			f.agent("a2", map[string]string{"env": "test"})
			spec := validSpec(mode)
			spec.CriticalProcesses = rules
			x := f.deployed(spec)
			require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
			meters := map[string]bool{}
			for _, tg := range x.State.Targets {
				cfg := parseConfig(t, f.assigned(tg.InstanceUID).Config)
				processors, _ := cfg.at("processors").(map[string]any)
				for id := range processors {
					switch id {
					case "cost_meter", "cost_meter/baseline", "cost_meter/candidate":
						meters[id+" of "+tg.Variant] = true
						assert.Equal(t, want, cfg.at("processors", id, "critical"), "%s of %s", id, tg.InstanceUID)
					}
				}
				if pc := cfg.at("processors", "process_critical/candidate"); pc != nil {
					assert.Equal(t, want, cfg.at("processors", "process_critical/candidate", "rules"))
				}
			}
			if mode == apitypes.ModePaired {
				assert.Equal(t, map[string]bool{"cost_meter/baseline of both": true, "cost_meter/candidate of both": true}, meters)
			} else {
				assert.Equal(t, map[string]bool{"cost_meter of baseline": true, "cost_meter of candidate": true}, meters)
			}
		})
	}
}

func TestAgentParamsAreAddedOnlyWhenDeclared(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	labels := map[string]string{"env": "test",
		apitypes.AgentParamLabelPrefix + "not_a_parameter": "would make rendering fail",
		apitypes.AgentParamLabelPrefix + "k":               "99", // declared, but a variant parameter: not the agent's to set
	}
	f.agent("a1", labels)
	f.agent("a2", labels)
	for _, mode := range []apitypes.Mode{apitypes.ModePaired, apitypes.ModeSplit} {
		t.Run(string(mode), func(t *testing.T) {
			x := f.deployed(validSpec(mode))
			require.Equal(t, apitypes.ExperimentDeploying, x.Status, x.State.Error)
			for _, tg := range x.State.Targets {
				cfg := parseConfig(t, f.assigned(tg.InstanceUID).Config)
				assert.Equal(t, []any{map[string]any{"name": "service.instance.id", "value": tg.InstanceUID}},
					cfg.at("service", "telemetry", "resource", "attributes"), "each agent gets its own identity")
				assert.NotContains(t, f.assigned(tg.InstanceUID).Config, "99")
			}
			_, err := f.c.Stop(t.Context(), x.ID)
			require.NoError(t, err)
			f.c.ReconcileAll(t.Context())
		})
	}
}
