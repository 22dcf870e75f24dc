// Package controlplane tests `phoenix server` end to end with the real
// upstream supervisor managing real phoenix-collectors.
package controlplane

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/filesummary"
	"github.com/phoenix/platform/test/harness"
)

// fileConfig is a complete configuration writing process metrics to out,
// with health_check on the agent's own port, extra exporter YAML, and the
// collector's own metrics pushed to the server as the catalog renders it (an
// explicit reader also keeps several collectors on one host off the default
// :8888 Prometheus endpoint).
func fileConfig(srv *harness.Server, a *harness.Agent, out, extraExporter string) string {
	exporters := "[file]"
	if extraExporter != "" {
		exporters = "[file, prometheus]"
	}
	return fmt.Sprintf(`extensions:
  health_check:
    endpoint: 127.0.0.1:%d
receivers:
  host_metrics:
    collection_interval: 1s
    scrapers:
      process:
        mute_process_exe_error: true
        mute_process_io_error: true
        mute_process_user_error: true
        mute_process_name_error: true
processors:
  process_critical: {}
exporters:
  file:
    path: %s
    append: true
%s
service:
  extensions: [health_check]
  telemetry:
    metrics:
      readers:
        - periodic:
            interval: 2000
            exporter:
              otlp:
                protocol: http/protobuf
                endpoint: %s/v1/metrics
                headers:
                  - name: Authorization
                    value: "Bearer ${env:PHOENIX_AGENT_TOKEN}"
    resource:
      attributes:
        - name: service.instance.id
          value: %s
  pipelines:
    metrics:
      receivers: [host_metrics]
      processors: [process_critical]
      exporters: %s
`, a.HealthPort, out, extraExporter, srv.API, a.UID, exporters)
}

func healthy(port int) bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func TestAssignApplyAndRollback(t *testing.T) {
	ctx := t.Context()
	srv := harness.StartServer(t, harness.ServerOptions{})
	c := srv.Client()
	agent := harness.StartAgent(t, srv, harness.AgentOptions{Name: "rollback"})
	view, err := c.GetAgent(ctx, agent.UID)
	require.NoError(t, err)
	assert.Equal(t, "phoenix-collector", view.Description.ServiceName)
	assert.Equal(t, apitypes.DriftUnassigned, view.Drift.State)

	// A good configuration is applied and runs as assigned.
	out := filepath.Join(t.TempDir(), "out.jsonl")
	good := fileConfig(srv, agent, out, "")
	asg, err := c.AssignAgent(ctx, agent.UID, apitypes.AssignRequest{Config: good, Reason: "e2e"})
	require.NoError(t, err)
	agent.WaitFor(ctx, c, 60*time.Second, "good config applied", func(v apitypes.AgentView) bool {
		return v.RemoteConfig.Hash == asg.ConfigHash && v.RemoteConfig.Status == apitypes.ConfigStatusApplied && v.Drift.State == apitypes.DriftInSync
	})
	harness.Eventually(t, ctx, 30*time.Second, func() (bool, string) {
		s, err := filesummary.ReadFile(out, nil)
		return err == nil && s.Processes > 1, fmt.Sprintf("summary %+v err %v", s, err)
	}, agent.Log)
	require.True(t, healthy(agent.HealthPort))

	// A configuration that validates but cannot start (its port is taken)
	// is reported FAILED, and the last working configuration keeps running.
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer taken.Close()
	bad := fileConfig(srv, agent, out, fmt.Sprintf("  prometheus:\n    endpoint: %s", taken.Addr()))
	badAsg, err := c.AssignAgent(ctx, agent.UID, apitypes.AssignRequest{Config: bad})
	require.NoError(t, err)
	failed := agent.WaitFor(ctx, c, 60*time.Second, "bad config failed", func(v apitypes.AgentView) bool {
		return v.Drift.State == apitypes.DriftFailed
	})
	assert.Contains(t, failed.FailedConfigHashes, badAsg.ConfigHash)
	before, err := filesummary.ReadFile(out, nil)
	require.NoError(t, err)
	harness.Eventually(t, ctx, 30*time.Second, func() (bool, string) {
		s, err := filesummary.ReadFile(out, nil)
		return err == nil && s.Exports > before.Exports+2 && healthy(agent.HealthPort),
			fmt.Sprintf("exports %d (before %d)", s.Exports, before.Exports)
	}, agent.Log)

	// The failed configuration is not pushed again: the status settles.
	time.Sleep(5 * time.Second)
	v, err := c.GetAgent(ctx, agent.UID)
	require.NoError(t, err)
	assert.Equal(t, apitypes.DriftFailed, v.Drift.State)
	_ = os.Remove(out)
}
