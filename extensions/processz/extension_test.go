package processz

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/phoenix/platform/processors/contract/decision"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func newTestExtension(t *testing.T, edit func(*Config)) *processz {
	t.Helper()
	cfg := createDefaultConfig().(*Config)
	cfg.NetAddr.Endpoint = "127.0.0.1:0"
	if edit != nil {
		edit(cfg)
	}
	require.NoError(t, cfg.Validate())
	p, err := newExtension(extensiontest.NewNopSettings(NewFactory().Type()), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p
}

func start(t *testing.T, p *processz) string {
	t.Helper()
	require.NoError(t, p.Start(t.Context(), componenttest.NewNopHost()))
	return "http://" + p.addr.String() + Path
}

func get(t *testing.T, url, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// recordABPipelines records what the processors of a baseline pipeline and
// a candidate pipeline would, plus a gateway's view of another host, at
// t0+1s, t0+2s, ...
func recordABPipelines(p *processz) {
	clock := t0
	p.store.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	p.handler.now = func() time.Time { return t0.Add(time.Minute) }

	p.RecordDecisions(component.MustNewIDWithName("process_critical", "baseline"), []decision.Record{
		{PID: 812, Executable: "postgres", Outcome: decision.Critical, Rule: "databases"},
	})
	p.RecordDecisions(component.MustNewIDWithName("process_critical", "candidate"), []decision.Record{
		{PID: 812, Executable: "postgres", Outcome: decision.Critical, Rule: "databases"},
	})
	p.RecordDecisions(component.MustNewIDWithName("process_topk", "candidate"), []decision.Record{
		{PID: 200, Executable: "bash", Outcome: decision.Dropped, Rank: 40, RankBy: "cpu", CPURate: 0.001},
		{PID: 101, Executable: "node", Outcome: decision.Kept, Rank: 2, RankBy: "memory", MemoryRSS: 256 << 20, OutStreak: 1},
		{PID: 100, Executable: "java", Outcome: decision.Kept, Rank: 1, RankBy: "cpu", CPURate: 1.5, MemoryRSS: 512 << 20},
	})
	p.RecordDecisions(component.MustNewIDWithName("process_rollup", "candidate"), []decision.Record{
		{PID: 300, Executable: "<python3>", Outcome: decision.RolledUp, Group: "others"},
	})
	p.RecordDecisions(component.MustNewIDWithName("process_topk", "gateway"), []decision.Record{
		{PID: 100, Host: "db-1", Executable: "java", Outcome: decision.Kept, Rank: 1, RankBy: "cpu"},
	})
}

func TestServesMergedDecisionsAsJSON(t *testing.T) {
	p := newTestExtension(t, nil)
	url := start(t, p)
	recordABPipelines(p)

	for name, target := range map[string]struct{ url, accept string }{
		"format parameter": {url: url + "?format=json"},
		"accept header":    {url: url, accept: "application/json"},
	} {
		t.Run(name, func(t *testing.T) {
			resp, body := get(t, target.url, target.accept)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
			var page Page
			require.NoError(t, json.Unmarshal([]byte(body), &page))

			at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
			assert.Equal(t, Page{
				GeneratedAt: t0.Add(time.Minute),
				Summary: Summary{Processes: 6, Outcomes: map[decision.Outcome]int{
					decision.Critical: 1, decision.Kept: 3, decision.RolledUp: 1, decision.Dropped: 1,
				}},
				Sources: []Source{
					{ID: "process_critical/baseline", LastReport: at(1), Records: 1, Outcomes: map[decision.Outcome]int{decision.Critical: 1}},
					{ID: "process_critical/candidate", LastReport: at(2), Records: 1, Outcomes: map[decision.Outcome]int{decision.Critical: 1}},
					{ID: "process_rollup/candidate", LastReport: at(4), Records: 1, Outcomes: map[decision.Outcome]int{decision.RolledUp: 1}},
					{ID: "process_topk/candidate", LastReport: at(3), Records: 3, Outcomes: map[decision.Outcome]int{decision.Kept: 2, decision.Dropped: 1}},
					{ID: "process_topk/gateway", LastReport: at(5), Records: 1, Outcomes: map[decision.Outcome]int{decision.Kept: 1}},
				},
				Processes: []Process{
					{PID: 812, Executable: "postgres", Critical: true, Decisions: []Decision{
						{Source: "process_critical/baseline", Outcome: decision.Critical, Rule: "databases"},
						{Source: "process_critical/candidate", Outcome: decision.Critical, Rule: "databases"},
					}},
					{PID: 100, Executable: "java", BestRank: 1, Decisions: []Decision{
						{Source: "process_topk/candidate", Outcome: decision.Kept, Rank: 1, RankBy: "cpu", CPURate: 1.5, MemoryRSS: 512 << 20},
					}},
					{Host: "db-1", PID: 100, Executable: "java", BestRank: 1, Decisions: []Decision{
						{Source: "process_topk/gateway", Outcome: decision.Kept, Rank: 1, RankBy: "cpu"},
					}},
					{PID: 101, Executable: "node", BestRank: 2, Decisions: []Decision{
						{Source: "process_topk/candidate", Outcome: decision.Kept, Rank: 2, RankBy: "memory", MemoryRSS: 256 << 20, OutStreak: 1},
					}},
					{PID: 200, Executable: "bash", BestRank: 40, Decisions: []Decision{
						{Source: "process_topk/candidate", Outcome: decision.Dropped, Rank: 40, RankBy: "cpu", CPURate: 0.001},
					}},
					{PID: 300, Executable: "<python3>", Decisions: []Decision{
						{Source: "process_rollup/candidate", Outcome: decision.RolledUp, Group: "others"},
					}},
				},
			}, page)
		})
	}
}

func TestServesMergedDecisionsAsHTML(t *testing.T) {
	p := newTestExtension(t, nil)
	url := start(t, p)
	recordABPipelines(p)

	resp, body := get(t, url, "text/html,application/xhtml+xml,application/json;q=0.9")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	for _, want := range []string{
		"<th>Host</th><th>PID</th><th>Executable</th><th>process_critical/baseline</th><th>process_critical/candidate</th><th>process_rollup/candidate</th><th>process_topk/candidate</th><th>process_topk/gateway</th>",
		`<td class="critical">critical: rule databases</td>`,
		`<td class="kept">kept: #1 by cpu<br><small>1.500 cpu/s · 512.0 MiB</small></td>`,
		`<td class="kept">kept: #2 by memory<br><small>256.0 MiB · kept by hysteresis: out of top k for 1 scrape</small></td>`,
		`<td class="dropped">dropped: #40 by cpu<br><small>0.001 cpu/s</small></td>`,
		`<td class="rolled_up">rolled up into others</td>`,
		"&lt;python3&gt;", // escaped
		`<td class="num">300</td><td>&lt;python3&gt;</td><td></td><td></td><td class="rolled_up">`,
		"6 processes — critical: 1, kept: 3, rolled up: 1, dropped: 1",
		"<td>process_topk/candidate</td><td>12:00:03 <small>(57s ago)</small></td>",
		`<a href="?format=json">JSON</a>`,
	} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "<python3>")
	assert.Less(t, strings.Index(body, "postgres"), strings.Index(body, "bash"), "critical processes come first")
}

func TestFiltersProcesses(t *testing.T) {
	p := newTestExtension(t, nil)
	url := start(t, p)
	recordABPipelines(p)

	pids := func(query string) []int64 {
		_, body := get(t, url+"?format=json&q="+query, "")
		var page Page
		require.NoError(t, json.Unmarshal([]byte(body), &page))
		var out []int64
		for _, proc := range page.Processes {
			out = append(out, proc.PID)
		}
		return out
	}
	assert.Equal(t, []int64{100, 100}, pids("100"), "a number selects a PID on every host")
	assert.Equal(t, []int64{812}, pids("POST"), "text selects executables containing it")
	assert.Empty(t, pids("nothing"))

	_, body := get(t, url+"?q=java", "")
	assert.Contains(t, body, `value="java"`)
	assert.Contains(t, body, `<a href="?format=json&amp;q=java">JSON</a>`)
	assert.NotContains(t, body, "postgres")
}

func TestRejectsBadRequests(t *testing.T) {
	p := newTestExtension(t, nil)
	url := start(t, p)

	resp, body := get(t, url+"?format=xml", "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, `format: want json or html, got "xml"`)

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, http.NoBody)
	require.NoError(t, err)
	postResp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, postResp.Body.Close())
	assert.Equal(t, http.StatusMethodNotAllowed, postResp.StatusCode)
	assert.Equal(t, "GET, HEAD", postResp.Header.Get("Allow"))
}

func TestEmptyPage(t *testing.T) {
	p := newTestExtension(t, nil)
	url := start(t, p)

	_, body := get(t, url, "")
	assert.Contains(t, body, "No processor has reported yet.")
	_, body = get(t, url+"?format=json", "")
	var page Page
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	assert.Equal(t, 0, page.Summary.Processes)
	assert.Empty(t, page.Sources)
	assert.Empty(t, page.Processes)
}

func TestPortConflictFailsStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = taken.Close() })

	p := newTestExtension(t, func(cfg *Config) { cfg.NetAddr.Endpoint = taken.Addr().String() })
	err = p.Start(t.Context(), componenttest.NewNopHost())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `processz: listening on "`+taken.Addr().String()+`"`)
	assert.Contains(t, err.Error(), "address already in use")
}

func TestShutdownStopsServing(t *testing.T) {
	p := newTestExtension(t, nil)
	url := start(t, p)
	resp, _ := get(t, url, "")
	require.Equal(t, http.StatusOK, resp.StatusCode)

	require.NoError(t, p.Shutdown(t.Context()))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, http.NoBody)
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	require.Error(t, err, "still serving after Shutdown")

	require.NoError(t, p.Shutdown(t.Context()), "a second Shutdown is harmless")
	var never *processz
	require.NoError(t, never.Shutdown(t.Context()))
}

// statusHost records the status events reported to it.
type statusHost struct {
	component.Host
	mu     sync.Mutex
	events []*componentstatus.Event
}

func (h *statusHost) Report(e *componentstatus.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

// brokenListener fails on Accept, as a listener whose socket died would.
type brokenListener struct{ net.Listener }

func (brokenListener) Accept() (net.Conn, error) { return nil, errors.New("socket died") }

func TestServeErrorIsReportedAsStatus(t *testing.T) {
	p := newTestExtension(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	host := &statusHost{Host: componenttest.NewNopHost()}

	p.stopped = make(chan struct{})
	p.serve(&http.Server{ReadHeaderTimeout: time.Second}, brokenListener{ln}, host)

	require.Len(t, host.events, 1)
	assert.Equal(t, componentstatus.StatusFatalError, host.events[0].Status())
	assert.ErrorContains(t, host.events[0].Err(), "socket died")
}

func TestConcurrentRecordingAndReading(t *testing.T) {
	p := newTestExtension(t, nil)
	url := start(t, p)
	sources := []component.ID{
		component.MustNewIDWithName("process_topk", "a"),
		component.MustNewIDWithName("process_topk", "b"),
	}
	var wg sync.WaitGroup
	for _, source := range sources {
		wg.Go(func() {
			for i := range 200 {
				p.RecordDecisions(source, []decision.Record{
					{PID: int64(i), Executable: "x", Outcome: decision.Kept, Rank: 1},
					{PID: int64(i + 1), Executable: "y", Outcome: decision.Dropped, Rank: 2},
				})
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 20 {
				resp, body := get(t, url+"?format=json", "")
				assert.Equal(t, http.StatusOK, resp.StatusCode)
				var page Page
				assert.NoError(t, json.Unmarshal([]byte(body), &page))
			}
		})
	}
	wg.Wait()

	_, body := get(t, url+"?format=json", "")
	var page Page
	require.NoError(t, json.Unmarshal([]byte(body), &page))
	assert.Len(t, page.Sources, 2)
	assert.Equal(t, []int64{199, 200}, []int64{page.Processes[0].PID, page.Processes[1].PID},
		"only each source's latest records are shown")
}
