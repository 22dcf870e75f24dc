// Package storetest is the conformance suite every store.Store
// implementation passes: one behaviour, whichever backend holds the data.
package storetest // import "github.com/phoenix/platform/opamp-server/store/storetest"

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// Opener returns a fresh, empty store for one test. The suite closes it
// (and checks that Close is idempotent, so the opener may close it too).
type Opener func(t *testing.T) store.Store

// Run runs the conformance suite against the stores open returns. Subtests
// run in parallel, each with its own store.
func Run(t *testing.T, open Opener) {
	suites := []struct {
		name  string
		tests []testCase
	}{
		{"Agents", agentTests},
		{"Credentials", credentialTests},
		{"Assignments", assignmentTests},
		{"Texts", textTests},
		{"Samples", sampleTests},
		{"Experiments", experimentTests},
		{"Events", eventTests},
		{"Rollouts", rolloutTests},
		{"Locks", lockTests},
		{"Presence", presenceTests},
		{"Watch", watchTests},
		{"Lifecycle", lifecycleTests},
	}
	for _, suite := range suites {
		t.Run(suite.name, func(t *testing.T) {
			t.Parallel()
			for _, test := range suite.tests {
				t.Run(test.name, func(t *testing.T) {
					t.Parallel()
					s := open(t)
					t.Cleanup(func() { _ = s.Close() })
					test.run(t, s)
				})
			}
		})
	}
}

// testCase is one conformance test; it gets a fresh store.
type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// base is a time with nanoseconds, in a zone other than UTC: stores return
// it in UTC truncated to microseconds.
var base = time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.FixedZone("UTC+1", 3600))

// normTime is the documented stored form of a time.
func normTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// fullAgent sets every field, with values that probe the edges: the top
// bit of uint64 fields, nanosecond times, nested maps.
func fullAgent(uid string) apitypes.Agent {
	return apitypes.Agent{
		InstanceUID: uid,
		Description: apitypes.AgentDescription{
			HostName:       "host-" + uid,
			OS:             "linux",
			ServiceName:    "phoenix-collector",
			ServiceVersion: "1.2.3",
			Identifying:    map[string]string{"service.instance.id": uid},
			NonIdentifying: map[string]string{"os.type": "linux", "host.arch": "amd64"},
		},
		Labels:       map[string]string{"env": "prod", "region": "eu-west"},
		Capabilities: 1<<63 | 0x3f,
		Health: &apitypes.Health{
			Healthy: true, Status: "StatusOK", LastError: "none <&> \"quoted\"", StartTime: base,
		},
		EffectiveConfig:     "receivers:\n  hostmetrics: {}\n",
		EffectiveConfigHash: "3f1c",
		RemoteConfig: apitypes.RemoteConfigStatus{
			Hash: "9a8b", Status: apitypes.ConfigStatusFailed, ErrorMessage: "bad pipeline", UpdatedAt: base.Add(time.Second),
		},
		FailedConfigHashes: []string{"dead", "beef"},
		ApplyRetry:         &apitypes.ApplyRetry{Hash: "9a8c", Attempts: 2, Limit: 3, NextAt: base.Add(2 * time.Second)},
		ConnectionType:     "websocket",
		Online:             true,
		ServerID:           "replica-1",
		SequenceNum:        math.MaxUint64,
		FirstSeen:          base,
		LastSeen:           base.Add(time.Minute),
	}
}

// storedAgent is fullAgent as a store returns it.
func storedAgent(uid string) apitypes.Agent {
	a := fullAgent(uid)
	a.Health.StartTime = normTime(a.Health.StartTime)
	a.ApplyRetry.NextAt = normTime(a.ApplyRetry.NextAt)
	a.RemoteConfig.UpdatedAt = normTime(a.RemoteConfig.UpdatedAt)
	a.FirstSeen, a.LastSeen = normTime(a.FirstSeen), normTime(a.LastSeen)
	return a
}

// listedAgent is storedAgent as ListAgents returns it: without the
// effective configuration's text.
func listedAgent(uid string) apitypes.Agent {
	a := storedAgent(uid)
	a.EffectiveConfig = ""
	return a
}

// minimalAgent is an agent with only what a filter test needs.
func minimalAgent(uid string, online bool, labels map[string]string) apitypes.Agent {
	return apitypes.Agent{InstanceUID: uid, Online: online, Labels: labels, ServerID: "replica-1"}
}

func upsertAgents(t *testing.T, s store.Store, agents ...apitypes.Agent) {
	t.Helper()
	for _, a := range agents {
		require.NoError(t, s.UpsertAgent(t.Context(), a))
	}
}

// listAllAgents pages through ListAgents, failing on a page over limit.
func listAllAgents(t *testing.T, s store.Store, f store.AgentFilter, limit int) (uids []string, pages int) {
	t.Helper()
	after := ""
	for {
		agents, next, err := s.ListAgents(t.Context(), f, store.Page{After: after, Limit: limit})
		require.NoError(t, err)
		require.LessOrEqual(t, len(agents), limit, "page over the limit")
		pages++
		for _, a := range agents {
			uids = append(uids, a.InstanceUID)
		}
		if next == "" {
			return uids, pages
		}
		require.NotEmpty(t, agents, "an empty page must be the last")
		require.Less(t, pages, 10000, "pagination does not end")
		after = next
	}
}

// waitChange reads ch until want arrives, skipping other changes (resyncs,
// earlier writes). The deadline only keeps a broken store from hanging the
// suite.
func waitChange(t *testing.T, ch <-chan store.Change, want store.Change) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case c, ok := <-ch:
			require.True(t, ok, "watch channel closed while waiting for %v", want)
			if c == want {
				return
			}
		case <-timeout.C:
			require.FailNow(t, fmt.Sprintf("no %v change delivered", want))
		}
	}
}

// nextChange returns the next change that is not a resync.
func nextChange(t *testing.T, ch <-chan store.Change) store.Change {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case c, ok := <-ch:
			require.True(t, ok, "watch channel closed")
			if c.Kind != store.ChangeResync {
				return c
			}
		case <-timeout.C:
			require.FailNow(t, "no change delivered")
		}
	}
}

// waitClosed drains ch until it is closed.
func waitClosed(t *testing.T, ch <-chan store.Change) {
	t.Helper()
	timeout := time.NewTimer(30 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-timeout.C:
			require.FailNow(t, "watch channel not closed")
		}
	}
}

// cancelled returns a context that is already cancelled.
func cancelled(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	return ctx
}
