package assignment

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

const (
	assignedConfig = `extensions:
  health_check: {}
receivers:
  host_metrics: {}
  otlp: {}
processors:
  process_critical: {}
  process_topk: {}
exporters:
  nop: {}
service:
  extensions: [health_check]
  pipelines:
    metrics:
      receivers: [host_metrics, otlp]
      processors: [process_critical, process_topk]
      exporters: [nop]
`
	// sameShape is what a collector reports for assignedConfig: defaults
	// filled in, keys reordered, the supervisor's opamp extension added.
	sameShape = `receivers:
  otlp:
    protocols: {grpc: {endpoint: "localhost:4317"}}
  host_metrics:
    collection_interval: 1m
processors:
  process_topk: {k: 10}
  process_critical: {rules: []}
exporters:
  nop: null
extensions:
  opamp: {server: {ws: {endpoint: "ws://127.0.0.1:4320/v1/opamp"}}}
  health_check: {endpoint: "127.0.0.1:13133"}
service:
  extensions: [opamp, health_check]
  telemetry: {metrics: {level: detailed}}
  pipelines:
    metrics:
      receivers: [otlp, host_metrics]
      processors: [process_critical, process_topk]
      exporters: [nop]
`
	// otherShape swaps the processors' order, drops the health check and a
	// receiver, and adds an exporter.
	otherShape = `receivers:
  host_metrics: {}
processors:
  process_critical: {}
  process_topk: {}
exporters:
  nop: {}
  debug: {}
service:
  extensions: [opamp]
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_topk, process_critical]
      exporters: [nop, debug]
`
)

func TestDrift(t *testing.T) {
	t.Parallel()
	hash := store.HashConfig([]byte(assignedConfig))
	asg := &apitypes.Assignment{Config: assignedConfig, ConfigHash: hash}
	applied := apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusApplied}
	tests := []struct {
		name  string
		agent apitypes.Agent
		asg   *apitypes.Assignment
		want  apitypes.Drift
	}{
		{name: "nothing assigned", agent: apitypes.Agent{EffectiveConfig: sameShape}, want: apitypes.Drift{State: apitypes.DriftUnassigned}},
		{name: "agent has not received it", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: "older", Status: apitypes.ConfigStatusApplied}},
			want:  apitypes.Drift{State: apitypes.DriftPending}},
		{name: "agent is applying it", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusApplying}},
			want:  apitypes.Drift{State: apitypes.DriftApplying}},
		{name: "agent failed to apply it", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusFailed, ErrorMessage: "bad"}},
			want:  apitypes.Drift{State: apitypes.DriftFailed, Message: "bad"}},
		{name: "agent failed it before and rolled back", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: "older", Status: apitypes.ConfigStatusApplied},
				FailedConfigHashes: []string{"x", hash}},
			want: apitypes.Drift{State: apitypes.DriftFailed}},
		{name: "apply timed out and rolled back: a retry is planned", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: "older", Status: apitypes.ConfigStatusApplied},
				ApplyRetry: &apitypes.ApplyRetry{Hash: hash, Attempts: 1, Limit: 3, NextAt: time.Date(2026, 12, 1, 12, 0, 15, 0, time.UTC)}},
			want: apitypes.Drift{State: apitypes.DriftRetrying, Message: "the collector was not healthy within the supervisor's apply timeout (1 of 3); sending it again at 2026-12-01T12:00:15Z"}},
		{name: "the re-sent copy is being applied", asg: asg,
			agent: apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusApplying},
				ApplyRetry: &apitypes.ApplyRetry{Hash: hash, Attempts: 1, Limit: 3}},
			want: apitypes.Drift{State: apitypes.DriftApplying}},
		{name: "applied with the same structure", asg: asg, agent: apitypes.Agent{RemoteConfig: applied, EffectiveConfig: sameShape},
			want: apitypes.Drift{State: apitypes.DriftInSync}},
		{name: "applied but running something else", asg: asg, agent: apitypes.Agent{RemoteConfig: applied, EffectiveConfig: otherShape},
			want: apitypes.Drift{State: apitypes.DriftDrifted, Sections: []string{"receivers", "exporters", "service.extensions", "service.pipelines"}}},
		{name: "applied, effective config not reported", asg: asg, agent: apitypes.Agent{RemoteConfig: applied},
			want: apitypes.Drift{State: apitypes.DriftDrifted, Message: "effective configuration unreadable or not reported"}},
		{name: "applied, effective config unreadable", asg: asg, agent: apitypes.Agent{RemoteConfig: applied, EffectiveConfig: "receivers: ["},
			want: apitypes.Drift{State: apitypes.DriftDrifted, Message: "effective configuration unreadable or not reported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, Drift(tt.agent, tt.asg))
			// Progress is the same short of the comparison, which it
			// reports as applied.
			want := tt.want
			if want.State == apitypes.DriftInSync || want.State == apitypes.DriftDrifted {
				want = apitypes.Drift{State: apitypes.DriftApplied}
			}
			assert.Equal(t, want, Progress(tt.agent, tt.asg))
		})
	}

	bad := &apitypes.Assignment{Config: "receivers: [", ConfigHash: "h"}
	got := Drift(apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: "h", Status: apitypes.ConfigStatusApplied}}, bad)
	assert.Equal(t, apitypes.DriftDrifted, got.State)
	assert.Contains(t, got.Message, "assigned configuration unreadable")
}

func TestDriftSections(t *testing.T) {
	t.Parallel()
	var want configShape
	require.NoError(t, yaml.Unmarshal([]byte(assignedConfig), &want))
	tests := []struct {
		name   string
		edit   func(*configShape)
		differ []string
	}{
		{name: "identical"},
		{name: "processor order", differ: []string{"service.pipelines"}, edit: func(c *configShape) {
			p := c.Service.Pipelines["metrics"]
			slices.Reverse(p.Processors)
			c.Service.Pipelines["metrics"] = p
		}},
		{name: "receiver order is not drift", edit: func(c *configShape) {
			p := c.Service.Pipelines["metrics"]
			slices.Reverse(p.Receivers)
			c.Service.Pipelines["metrics"] = p
		}},
		{name: "extra pipeline", differ: []string{"service.pipelines"}, edit: func(c *configShape) {
			c.Service.Pipelines["metrics/system"] = pipelineShape{Receivers: []string{"host_metrics"}, Exporters: []string{"nop"}}
		}},
		{name: "extra connector", differ: []string{"connectors"}, edit: func(c *configShape) {
			c.Connectors = keysOnly{"forward"}
		}},
		{name: "extra extension is the supervisor's", edit: func(c *configShape) {
			c.Service.Extensions = append(c.Service.Extensions, "opamp")
		}},
		{name: "processor removed", differ: []string{"processors"}, edit: func(c *configShape) {
			c.Processors = slices.DeleteFunc(c.Processors, func(id string) bool { return id == "process_topk" })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got configShape
			require.NoError(t, yaml.Unmarshal([]byte(assignedConfig), &got))
			if tt.edit != nil {
				tt.edit(&got)
			}
			assert.Equal(t, tt.differ, want.diff(got))
		})
	}
}

// Agents whose configurations differ only by their UIDs share one
// comparison: the second agent is not parsed again, and an agent
// compared again needs no effective text.
func TestDriftIsComparedOncePerFleet(t *testing.T) {
	agentOf := func(uid string) (apitypes.Agent, *apitypes.Assignment) {
		config := strings.ReplaceAll(assignedConfig, "nop:", "nop/"+uid+":")
		config = strings.ReplaceAll(config, "[nop]", "[nop/"+uid+"]")
		asg := &apitypes.Assignment{InstanceUID: uid, Config: config, ConfigHash: "h-" + uid}
		a := apitypes.Agent{InstanceUID: uid, EffectiveConfigHash: "e-" + uid,
			RemoteConfig: apitypes.RemoteConfigStatus{Hash: asg.ConfigHash, Status: apitypes.ConfigStatusApplied}}
		return a, asg
	}
	loads := 0
	loader := func(text string) func() (string, error) {
		return func() (string, error) { loads++; return text, nil }
	}
	before := comparisons.Load()
	a, asg := agentOf("0191f1c2-0000-7000-8000-00000000000a")
	d, err := DriftLoading(a, asg, loader(asg.Config))
	require.NoError(t, err)
	assert.Equal(t, apitypes.DriftInSync, d.State)
	b, bsg := agentOf("0191f1c2-0000-7000-8000-00000000000b")
	d, err = DriftLoading(b, bsg, loader(bsg.Config))
	require.NoError(t, err)
	assert.Equal(t, apitypes.DriftInSync, d.State)
	assert.Equal(t, int64(1), comparisons.Load()-before, "the second agent shares the first's comparison")
	assert.Equal(t, 2, loads)

	d, err = DriftLoading(b, bsg, loader("not read"))
	require.NoError(t, err)
	assert.Equal(t, apitypes.DriftInSync, d.State)
	assert.Equal(t, 2, loads, "remembered by hash: no text read")

	// Another structure is compared on its own.
	c, csg := agentOf("0191f1c2-0000-7000-8000-00000000000c")
	d, err = DriftLoading(c, csg, loader("receivers: {otlp: {}}\n"))
	require.NoError(t, err)
	assert.Equal(t, apitypes.DriftDrifted, d.State)
	assert.Equal(t, int64(2), comparisons.Load()-before)
}

// A head (an assignment without its Config) has its text read only when
// the comparison is not remembered, and a read error is returned.
func TestDriftOfHeadLoadsAssignedTextOnMiss(t *testing.T) {
	uid := "0191f1c2-0000-7000-8000-0000000000d1"
	config := strings.ReplaceAll(assignedConfig, "nop:", "nop/"+uid+":")
	head := &apitypes.Assignment{InstanceUID: uid, ConfigHash: "head-" + uid}
	a := apitypes.Agent{InstanceUID: uid, EffectiveConfigHash: "e-" + uid,
		RemoteConfig: apitypes.RemoteConfigStatus{Hash: head.ConfigHash, Status: apitypes.ConfigStatusApplied}}
	effective := func() (string, error) { return config, nil }
	loads := 0
	assigned := func() (string, error) { loads++; return config, nil }

	_, err := DriftOfHead(a, head, effective, func() (string, error) { return "", errors.New("store down") })
	require.EqualError(t, err, "store down")
	d, err := DriftOfHead(a, head, effective, assigned)
	require.NoError(t, err)
	assert.Equal(t, apitypes.DriftInSync, d.State)
	assert.Equal(t, 1, loads)
	d, err = DriftOfHead(a, head, effective, assigned)
	require.NoError(t, err)
	assert.Equal(t, apitypes.DriftInSync, d.State)
	assert.Equal(t, 1, loads, "remembered by hash: no text read")

	// A full assignment's Config is used as it is.
	full := &apitypes.Assignment{InstanceUID: uid, Config: config, ConfigHash: "full-" + uid}
	a.RemoteConfig.Hash = full.ConfigHash
	d, err = DriftOfHead(a, full, effective, assigned)
	require.NoError(t, err)
	assert.Equal(t, apitypes.DriftInSync, d.State)
	assert.Equal(t, 1, loads)
}
