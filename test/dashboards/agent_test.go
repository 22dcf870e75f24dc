package dashboards

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/testenv"
)

// telemetryAgent is an opampsupervisor set up as the deployments set theirs
// up: the label phoenix.param.telemetry_prometheus_endpoint makes every
// configuration the server renders for it carry a Prometheus pull reader
// (Telemetry) beside the own-telemetry push to the server.
type telemetryAgent struct {
	UID       string
	Telemetry string // host:port Prometheus scrapes
	dir       string
}

func startTelemetryAgent(t *testing.T, srv *harness.Server, name string, labels map[string]string) *telemetryAgent {
	t.Helper()
	healthPort, err := localrun.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	telemetryPort, err := localrun.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	a := &telemetryAgent{Telemetry: fmt.Sprintf("127.0.0.1:%d", telemetryPort), dir: t.TempDir()}
	desc := map[string]string{
		"phoenix.test.agent":                          name,
		"phoenix.param.health_check_endpoint":         fmt.Sprintf("127.0.0.1:%d", healthPort),
		"phoenix.param.telemetry_prometheus_endpoint": a.Telemetry,
	}
	for k, v := range labels {
		desc[k] = v
	}
	cred := srv.Enroll(t.Context())
	cfg, err := yaml.Marshal(map[string]any{
		"server": map[string]any{"endpoint": srv.OpAMP,
			"headers": map[string]string{"Authorization": "Bearer " + cred.Token}},
		"capabilities": map[string]bool{"accepts_remote_config": true, "reports_effective_config": true,
			"reports_own_metrics": true, "reports_health": true, "reports_remote_config": true},
		"agent": map[string]any{
			"executable":                      testenv.Binary(t, "phoenix-collector"),
			"instance_id":                     cred.InstanceUID,
			"collector_crash_log_snippet_kib": 2,
			"automatic_config_rollback":       true,
			"config_apply_timeout":            localrun.ApplyTimeout.String(),
			"description":                     map[string]any{"non_identifying_attributes": desc},
		},
		"storage": map[string]string{"directory": filepath.Join(a.dir, "storage")},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := testenv.WriteFile(t, a.dir, "supervisor.yaml", string(cfg))
	log, err := os.Create(filepath.Join(a.dir, "supervisor.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Binary(t, "opampsupervisor"), "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = log, log
	// The collector inherits the token for its push to the server.
	cmd.Env = append(os.Environ(), apitypes.AgentTokenEnv+"="+cred.Token)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		t.Fatalf("starting opampsupervisor: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = log.Close(); close(exited) }()
	t.Cleanup(func() { stopGroup(cmd, exited) })

	c := srv.Client()
	harness.Eventually(t, t.Context(), 60*time.Second, func() (bool, string) {
		agents, err := c.AllAgents(t.Context(), apiclient.ListAgentsOptions{Selector: "phoenix.test.agent=" + name})
		if err != nil {
			return false, err.Error()
		}
		if len(agents) != 1 || !agents[0].Online {
			return false, fmt.Sprintf("%d agents named %s", len(agents), name)
		}
		a.UID = agents[0].InstanceUID
		return true, ""
	}, a.Log)
	return a
}

// Log returns the supervisor's output and the collector's log.
func (a *telemetryAgent) Log() string {
	var b strings.Builder
	for _, f := range []string{"supervisor.log", "storage/agent.log"} {
		raw, _ := os.ReadFile(filepath.Join(a.dir, f))
		fmt.Fprintf(&b, "--- %s\n%s\n", f, raw)
	}
	return b.String()
}

// startOTLPSink is an OTLP/HTTP metrics destination that accepts every other
// request and refuses the rest with 400 (a permanent error, no retries), so
// the collector's exporter counts both sent and failed points.
func startOTLPSink(t *testing.T) string {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-protobuf")
		if n.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		// An empty body is an empty ExportMetricsServiceResponse.
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// probeMetric is what startSuffixProbe serves with a _total suffix; the
// collector job's metric relabelling must store it without.
const probeMetric = "otelcol_phoenix_test_probe"

// startSuffixProbe serves a counter named the way a Prometheus reader without
// without_type_suffix names counters; it returns host:port.
func startSuffixProbe(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# TYPE %[1]s_total counter\n%[1]s_total 1\n", probeMetric)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// refuseOpAMPConnection connects to the OpAMP endpoint without a token, as a
// misconfigured supervisor would: the server counts an auth error.
func refuseOpAMPConnection(t *testing.T, opampURL string) {
	t.Helper()
	u := strings.Replace(opampURL, "ws://", "http://", 1)
	resp, err := http.Post(u, "application/x-protobuf", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("OpAMP without a token: %s, want 401", resp.Status)
	}
}
