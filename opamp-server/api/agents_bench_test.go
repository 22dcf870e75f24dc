package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// benchFleet is the fleet size docs/architecture.md reports figures for.
const benchFleet = 10_000

// BenchmarkListAgents lists a fleet that has APPLIED its ~10 KiB
// assignments through the HTTP handler, in pages of 1,000: what a console
// polling the fleet during an apply costs.
func BenchmarkListAgents(b *testing.B) {
	env := newTestEnv(b)
	seedBenchFleet(b, env.store)
	// The first listing compares every agent's configurations; later ones
	// find the comparisons remembered, as a console polling does.
	listBenchFleet(b, env, true)
	b.ReportAllocs()
	for b.Loop() {
		listBenchFleet(b, env, false)
	}
}

// listBenchFleet lists every agent through the HTTP handler, 1,000 a page.
// Unless check, it decodes only each page's meta, which the envelope puts
// last: decoding every view would measure this client more than the server.
func listBenchFleet(b *testing.B, env *testEnv, check bool) {
	listed, cursor := 0, ""
	for {
		target := apitypes.Prefix + "/agents?limit=1000"
		if cursor != "" {
			target += "&cursor=" + cursor
		}
		rec := httptest.NewRecorder()
		env.mux.ServeHTTP(rec, httptest.NewRequestWithContext(b.Context(), http.MethodGet, target, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %.200s", rec.Code, rec.Body.Bytes())
		}
		body := rec.Body.Bytes()
		var meta apitypes.Meta
		if check {
			var page struct {
				Data []json.RawMessage `json:"data"`
				Meta apitypes.Meta     `json:"meta"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				b.Fatal(err)
			}
			listed, meta = listed+len(page.Data), page.Meta
		} else {
			tail := body[bytes.LastIndex(body, []byte(`"meta":`))+len(`"meta":`):]
			if err := json.NewDecoder(bytes.NewReader(tail)).Decode(&meta); err != nil {
				b.Fatalf("meta: %v", err)
			}
		}
		if cursor = meta.NextCursor; cursor == "" {
			break
		}
	}
	if check && listed != benchFleet {
		b.Fatalf("listed %d agents, want %d", listed, benchFleet)
	}
}

// seedBenchFleet stores benchFleet agents, each assigned a configuration
// naming it and running (APPLIED) its own effective configuration.
func seedBenchFleet(b *testing.B, st store.Store) {
	b.Helper()
	ctx := b.Context()
	asgs := make([]apitypes.Assignment, 0, store.MaxBatchKeys)
	flush := func() {
		_, err := st.SetAssignments(ctx, asgs)
		require.NoError(b, err)
		asgs = asgs[:0]
	}
	agents := make(chan apitypes.Agent)
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	// Concurrent writers share bbolt's batched commits: one fsync each
	// would make seeding take minutes.
	for range 32 {
		wg.Go(func() {
			for a := range agents {
				if err := st.UpsertAgent(ctx, a); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range benchFleet {
		uid := fmt.Sprintf("0190a1b2-c3d4-7e5f-8a9b-%012d", i)
		config := benchConfig(uid, false)
		hash := store.HashConfig([]byte(config))
		asgs = append(asgs, apitypes.Assignment{InstanceUID: uid, Pipeline: "host-metrics", Config: config, ConfigHash: hash,
			Parameters: map[string]any{"interval": "30s", "endpoint": "https://otlp.example.com:4318"}, Reason: "bench"})
		if len(asgs) == cap(asgs) {
			flush()
		}
		effective := benchConfig(uid, true)
		agents <- apitypes.Agent{
			InstanceUID: uid, Online: true, ServerID: "replica-1", ConnectionType: apitypes.ConnectionWebSocket,
			Labels: map[string]string{"env": "prod", "host.name": fmt.Sprintf("web-%d", i), "service.name": "otelcol"},
			Description: apitypes.AgentDescription{HostName: fmt.Sprintf("web-%d", i), OS: "linux",
				ServiceName: "otelcol", ServiceVersion: "0.120.0"},
			Capabilities:    0x3fff,
			Health:          &apitypes.Health{Healthy: true, Status: "StatusOK", StartTime: seen},
			EffectiveConfig: effective, EffectiveConfigHash: store.HashConfig([]byte(effective)),
			RemoteConfig: apitypes.RemoteConfigStatus{Hash: hash, Status: apitypes.ConfigStatusApplied, UpdatedAt: seen},
			SequenceNum:  42, FirstSeen: seen, LastSeen: seen,
		}
	}
	close(agents)
	wg.Wait()
	if len(asgs) > 0 {
		flush()
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// benchConfig is a collector configuration of about 10 KiB naming uid; the
// effective one is re-rendered with the supervisor's opamp extension.
func benchConfig(uid string, effective bool) string {
	var sb strings.Builder
	sb.WriteString("receivers:\n  host_metrics:\n    collection_interval: 30s\n    scrapers:\n")
	for _, s := range []string{"cpu", "memory", "disk", "filesystem", "network", "load", "paging", "process"} {
		fmt.Fprintf(&sb, "      %s:\n        metrics:\n", s)
		for m := range 14 {
			fmt.Fprintf(&sb, "          system.%s.metric_%d:\n            enabled: true\n", s, m)
		}
	}
	sb.WriteString("processors:\n  batch:\n    timeout: 5s\n  resource:\n    attributes:\n")
	fmt.Fprintf(&sb, "      - key: service.instance.id\n        value: %s\n        action: upsert\n", uid)
	for k := range 20 {
		fmt.Fprintf(&sb, "      - key: attribute.%d\n        value: value-%d\n        action: insert\n", k, k)
	}
	sb.WriteString("  filter:\n    metrics:\n      include:\n        match_type: regexp\n        metric_names:\n")
	for k := range 30 {
		fmt.Fprintf(&sb, "          - ^process\\.name_%d\\..*$\n", k)
	}
	sb.WriteString("exporters:\n  otlphttp:\n    endpoint: https://otlp.example.com:4318\n    headers:\n")
	fmt.Fprintf(&sb, "      x-instance: %s\n", uid)
	extensions := "[]"
	if effective {
		sb.WriteString("extensions:\n  opamp:\n    server:\n      ws:\n        endpoint: ws://127.0.0.1:4320/v1/opamp\n")
		extensions = "[opamp]"
	}
	fmt.Fprintf(&sb, "service:\n  extensions: %s\n  pipelines:\n    metrics:\n      receivers: [host_metrics]\n"+
		"      processors: [resource, filter, batch]\n      exporters: [otlphttp]\n", extensions)
	return sb.String()
}
