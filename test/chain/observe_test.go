package chain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// export is what one line of the file exporter's output holds.
type export struct {
	// processes maps the PID of each process exported as its own resource
	// to its executable name.
	processes map[int64]string
	// aggregates are process_rollup's resources.
	aggregates []aggregate
	// phoenixAttributes are attribute keys in the phoenix.* namespace on any
	// resource or datapoint.
	phoenixAttributes []string
}

type aggregate struct {
	executable   string
	processCount int64 // phoenix.rollup.process.count
}

// readExports reads the file exporter's output, one OTLP JSON batch a line.
func readExports(t *testing.T, path string) []export {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var exports []export
	var u pmetric.JSONUnmarshaler
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		md, err := u.UnmarshalMetrics(sc.Bytes())
		require.NoError(t, err, "line %d", len(exports)+1)
		exports = append(exports, readExport(md))
	}
	require.NoError(t, sc.Err())
	return exports
}

func readExport(md pmetric.Metrics) export {
	e := export{processes: map[int64]string{}}
	checkAttrs := func(attrs pcommon.Map) {
		for k := range attrs.All() {
			if strings.HasPrefix(k, "phoenix.") {
				e.phoenixAttributes = append(e.phoenixAttributes, k)
			}
		}
	}
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		attrs := rm.Resource().Attributes()
		checkAttrs(attrs)
		exe := ""
		if v, ok := attrs.Get(processmetrics.AttrExecutableName); ok {
			exe = v.Str()
		}
		if pid, ok := processmetrics.PID(rm.Resource()); ok {
			e.processes[pid] = exe
		}
		agg := aggregate{executable: exe, processCount: -1}
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				var dps pmetric.NumberDataPointSlice
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					dps = m.Gauge().DataPoints()
				case pmetric.MetricTypeSum:
					dps = m.Sum().DataPoints()
				default:
					continue
				}
				for l := 0; l < dps.Len(); l++ {
					checkAttrs(dps.At(l).Attributes())
				}
				if m.Name() == "phoenix.rollup.process.count" && dps.Len() == 1 {
					agg.processCount = dps.At(0).IntValue()
				}
			}
		}
		if agg.processCount >= 0 {
			e.aggregates = append(e.aggregates, agg)
		}
	}
	return e
}

// processzPage is the part of processz's JSON page the test reads, declared
// here as a client would, so the wire format is what is checked.
type processzPage struct {
	Processes []struct {
		PID        int64  `json:"pid"`
		Executable string `json:"executable"`
		Critical   bool   `json:"critical"`
		Decisions  []struct {
			Source  string `json:"source"`
			Outcome string `json:"outcome"`
			Rule    string `json:"rule"`
			Rank    int    `json:"rank"`
			Group   string `json:"group"`
		} `json:"decisions"`
	} `json:"processes"`
}

// decision is one source's outcome for a process, flattened for asserts.
type decision struct {
	source, outcome, rule, group string
	rank                         int
}

// decisionsByPID returns, per PID, every source's decision.
func (p processzPage) decisionsByPID() (map[int64][]decision, map[int64]bool) {
	out, critical := map[int64][]decision{}, map[int64]bool{}
	for _, proc := range p.Processes {
		critical[proc.PID] = proc.Critical
		for _, d := range proc.Decisions {
			out[proc.PID] = append(out[proc.PID], decision{source: d.Source, outcome: d.Outcome, rule: d.Rule, group: d.Group, rank: d.Rank})
		}
	}
	return out, critical
}

// checkProcessz reads processz's page until it explains the three kinds of
// process: the critical one by its rule, a busy one kept with a rank, and an
// idle one rolled up into process_rollup's _other group.
func checkProcessz(t *testing.T, port int, critical, busy int64, idle map[int64]bool) {
	t.Helper()
	ctx := t.Context()
	url := fmt.Sprintf("http://127.0.0.1:%d/processz?format=json", port)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		body, err := get(ctx, url)
		require.NoError(c, err)
		var page processzPage
		require.NoError(c, json.Unmarshal(body, &page), "%s", body)
		decisions, isCritical := page.decisionsByPID()

		assert.True(c, isCritical[critical], "the critical process is not shown critical")
		assert.Contains(c, decisions[critical], decision{source: "process_critical", outcome: "critical", rule: criticalRule})

		var topk *decision
		for _, d := range decisions[busy] {
			if d.source == "process_topk" {
				topk = &d
			}
		}
		if assert.NotNil(c, topk, "process_topk has no decision for busy process %d", busy) {
			assert.Equal(c, "kept", topk.outcome, "busy process %d", busy)
			assert.Positive(c, topk.rank, "busy process %d has no rank", busy)
		}

		rolledUp := 0
		for pid := range idle {
			ds := decisions[pid]
			if slices.ContainsFunc(ds, func(d decision) bool { return d.source == "process_topk" && d.outcome == "rolled_up" }) &&
				slices.Contains(ds, decision{source: "process_rollup", outcome: "rolled_up", group: "_other"}) {
				rolledUp++
			}
		}
		assert.GreaterOrEqual(c, rolledUp, idleProcesses-k, "idle processes shown rolled up by process_topk and process_rollup (idle: %v)", sortedPIDs(idle))
	}, 10*time.Second, 250*time.Millisecond, "processz at %s", url)
}

// checkCostMeter reads the collector's own metrics until cost_meter has
// counted the exported process resources and exactly one critical process.
func checkCostMeter(t *testing.T, port int) {
	t.Helper()
	ctx := t.Context()
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		body, err := get(ctx, url)
		require.NoError(c, err)
		critical, ok := sample(string(body), "otelcol_processor_cost_meter_critical_processes")
		if assert.True(c, ok, "no critical_processes gauge:\n%s", body) {
			assert.Equal(c, 1.0, critical)
		}
		resources, ok := sample(string(body), "otelcol_processor_cost_meter_process_resources")
		if assert.True(c, ok, "no process_resources counter") {
			assert.Positive(c, resources)
		}
	}, 5*time.Second, 250*time.Millisecond, "own metrics at %s", url)
}

// sample finds a sample of the metric (with or without Prometheus' _total
// suffix) labelled variant="chain" in the text exposition format.
func sample(text, metric string) (float64, bool) {
	for line := range strings.Lines(text) {
		name, rest, found := strings.Cut(line, "{")
		if !found || (name != metric && name != metric+"_total") || !strings.Contains(rest, `variant="chain"`) {
			continue
		}
		_, value, _ := strings.Cut(rest, "} ")
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		return v, err == nil
	}
	return 0, false
}

func get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, nil
}

// runOutput runs a command and returns its combined output.
func runOutput(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %v: %w\n%s", name, args, err, out)
	}
	return string(out), nil
}
