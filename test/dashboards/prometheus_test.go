package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/testenv"
)

// scrapeInterval is short so rates have points within seconds.
const scrapeInterval = "2s"

// prometheusServer is a real Prometheus on a loopback port.
type prometheusServer struct {
	url     string
	started time.Time
	logPath string
}

// writePromConfig turns the shipped prometheus.yml into the test's: the same
// jobs and relabelling, the test's targets, short intervals, and the shipped
// rules file.
func writePromConfig(t *testing.T, dir, server string, collectors []string) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	raw, err := os.ReadFile(filepath.Join(root, prometheusDir, "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["global"] = map[string]any{"scrape_interval": scrapeInterval, "scrape_timeout": scrapeInterval,
		"evaluation_interval": scrapeInterval}
	cfg["rule_files"] = []string{filepath.Join(root, rulesFile)}
	targets := map[string][]string{"phoenix-server": {server}, "phoenix-collector": collectors}
	jobs, _ := cfg["scrape_configs"].([]any)
	for _, j := range jobs {
		job, _ := j.(map[string]any)
		name, _ := job["job_name"].(string)
		tg, ok := targets[name]
		if !ok {
			t.Fatalf("prometheus.yml: unexpected job %q", name)
		}
		job["static_configs"] = []any{map[string]any{"targets": tg}}
		delete(targets, name)
	}
	if len(targets) > 0 {
		t.Fatalf("prometheus.yml: jobs %v missing", slices.Sorted(maps.Keys(targets)))
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.WriteFile(t, dir, "prometheus.yml", string(out))
}

// startPrometheus runs bin with the test configuration until the test ends.
func startPrometheus(t *testing.T, bin, server string, collectors []string) *prometheusServer {
	t.Helper()
	dir := t.TempDir()
	cfg := writePromConfig(t, dir, server, collectors)
	port, err := localrun.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p := &prometheusServer{url: fmt.Sprintf("http://127.0.0.1:%d", port), logPath: filepath.Join(dir, "prometheus.log")}
	log, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--storage.tsdb.retention.time=1h")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); _ = log.Close(); close(exited) }()
	t.Cleanup(func() { stopGroup(cmd, exited) })
	p.started = time.Now()
	harness.Eventually(t, t.Context(), 30*time.Second, func() (bool, string) {
		resp, err := http.Get(p.url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	}, p.log)
	return p
}

// stopGroup ends a process group started with Setpgid: SIGTERM, then SIGKILL
// after 20 s.
func stopGroup(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

func (p *prometheusServer) log() string {
	raw, _ := os.ReadFile(p.logPath)
	return string(raw)
}

// get calls Prometheus's HTTP API and decodes data.
func (p *prometheusServer) get(ctx context.Context, path string, params url.Values, data any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var body struct {
		Status string          `json:"status"`
		Error  string          `json:"error"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if body.Status != "success" {
		return fmt.Errorf("%s: %s", resp.Status, body.Error)
	}
	return json.Unmarshal(body.Data, data)
}

// result is a query result: its type and how many series or values it has.
type result struct {
	ResultType string            `json:"resultType"`
	Result     []json.RawMessage `json:"result"`
}

func (r *result) UnmarshalJSON(b []byte) error {
	var raw struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	r.ResultType = raw.ResultType
	if raw.ResultType == "scalar" || raw.ResultType == "string" {
		r.Result = []json.RawMessage{raw.Result} // one [time, value] pair
		return nil
	}
	return json.Unmarshal(raw.Result, &r.Result)
}

// instant runs /api/v1/query at time at and returns how many series it gave.
func (p *prometheusServer) instant(ctx context.Context, expr string, at time.Time) (int, error) {
	var r result
	err := p.get(ctx, "/api/v1/query", url.Values{"query": {expr}, "time": {unix(at)}}, &r)
	return len(r.Result), err
}

// rangeStep is the resolution of range queries.
const rangeStep = 5 * time.Second

// rangeSeries runs /api/v1/query_range over [start, end] as a Grafana time
// series panel does and returns how many series had a value. The steps end
// exactly at end, so data that appeared just before end is seen.
func (p *prometheusServer) rangeSeries(ctx context.Context, expr string, start, end time.Time) (int, error) {
	steps := (end.Sub(start) + rangeStep - 1) / rangeStep
	start = end.Add(-steps * rangeStep)
	var r result
	err := p.get(ctx, "/api/v1/query_range", url.Values{"query": {expr}, "start": {unix(start)}, "end": {unix(end)},
		"step": {strconv.FormatFloat(rangeStep.Seconds(), 'f', -1, 64)}}, &r)
	return len(r.Result), err
}

// labelValues lists a label's values over the series matching selector
// since Prometheus started.
func (p *prometheusServer) labelValues(ctx context.Context, label, selector string) ([]string, error) {
	params := url.Values{"start": {unix(p.started.Add(-time.Minute))}}
	if selector != "" {
		params.Set("match[]", selector)
	}
	var values []string
	err := p.get(ctx, "/api/v1/label/"+label+"/values", params, &values)
	return values, err
}

func unix(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)
}
