package fleetsim

import (
	"context"
	"testing"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// offline is an agent of a fleet whose server cannot be reached: its
// opamp-go client is real and started, but never connects, so what it
// reports only queues. The tests here follow the agent's own state; the
// end-to-end tests see what a server receives.
func offline(t *testing.T, o Options, index int) *agent {
	t.Helper()
	o.Count, o.Server, o.OpAMP = max(o.Count, index+1), "http://127.0.0.1:1", "ws://127.0.0.1:1/v1/opamp"
	o = o.withDefaults()
	ids, err := loadIdentities("", o.Server)
	require.NoError(t, err)
	f := &Fleet{o: o, ids: ids, waveGap: 5 * time.Second, interned: map[string]string{}}
	a := newAgent(f, Identity{Index: index, InstanceUID: "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b", Token: "t", Server: o.Server})
	require.NoError(t, a.start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		assert.NoError(t, a.stop(ctx))
	})
	return a
}

func remoteConfig(body string, hash byte) *protobufs.AgentRemoteConfig {
	return &protobufs.AgentRemoteConfig{
		Config:     &protobufs.AgentConfigMap{ConfigMap: map[string]*protobufs.AgentConfigFile{"": {Body: []byte(body)}}},
		ConfigHash: []byte{hash},
	}
}

func TestAnAgentAppliesAndReportsWhatItRuns(t *testing.T) {
	t.Parallel()
	a := offline(t, Options{}, 0)
	a.delay = 50 * time.Millisecond
	a.receiveConfig(remoteConfig("a: 1", 0xa))
	assert.Equal(t, "APPLYING", a.status().Status)
	require.Eventually(t, func() bool { return a.status().Status == "APPLIED" }, 5*time.Second, 10*time.Millisecond)
	st := a.status()
	assert.Equal(t, "0a", st.ConfigHash)
	assert.Equal(t, "0a", st.RunningHash)
	ec, err := a.effectiveConfig(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "a: 1", string(ec.GetConfigMap().GetConfigMap()[""].GetBody()))
	assert.Equal(t, int64(1), a.f.applied.Load())
	assert.Equal(t, int64(1), a.f.configs.Load())

	// The configuration it runs, again: APPLIED at once, no new apply.
	a.receiveConfig(remoteConfig("a: 1", 0xa))
	assert.Equal(t, "APPLIED", a.status().Status)
	assert.Equal(t, int64(1), a.f.configs.Load(), "not a configuration received anew")

	// A newer configuration supersedes one being applied.
	a.delay = 200 * time.Millisecond
	a.receiveConfig(remoteConfig("b: 1", 0xb))
	a.receiveConfig(remoteConfig("b: 1", 0xb)) // a copy of what is being applied
	a.receiveConfig(remoteConfig("c: 1", 0xc))
	assert.Equal(t, int64(1), a.f.applying.Load())
	require.Eventually(t, func() bool { return a.status().Status == "APPLIED" }, 5*time.Second, 10*time.Millisecond)
	time.Sleep(300 * time.Millisecond) // b's apply, had it not been superseded, would have ended by now
	st = a.status()
	assert.Equal(t, "0c", st.RunningHash)
	assert.Equal(t, int64(1), a.f.applied.Load())
	assert.Zero(t, a.f.applying.Load())
	assert.Equal(t, int64(3), a.f.configs.Load())
	waves := a.f.Waves()
	require.Len(t, waves, 1, "received within the wave gap")
	assert.Equal(t, 3, waves[0].Received)
	assert.Equal(t, 2, waves[0].Applied, "a and c; b was superseded")
}

func TestAFailingAgentIsDown(t *testing.T) {
	t.Parallel()
	a := offline(t, Options{FailShare: 1}, 0)
	a.offerOwnMetrics(&protobufs.TelemetryConnectionSettings{DestinationEndpoint: "http://127.0.0.1:1/v1/metrics",
		Headers: &protobufs.Headers{Headers: []*protobufs.Header{{Key: "Authorization", Value: "Bearer t"}}}})
	assert.True(t, a.exporting(), "a collector with its bootstrap configuration exports")
	id, ok := a.f.ids.get(0)
	require.True(t, ok, "the offer is kept with the identity")
	assert.Equal(t, &OwnMetrics{Endpoint: "http://127.0.0.1:1/v1/metrics", Headers: map[string]string{"Authorization": "Bearer t"}}, id.OwnMetrics)

	a.receiveConfig(remoteConfig("a: 1", 0xa))
	st := a.status()
	assert.Equal(t, "FAILED", st.Status)
	assert.Empty(t, st.RunningHash)
	assert.False(t, a.exporting(), "its collector is down")
	ec, err := a.effectiveConfig(t.Context())
	require.NoError(t, err)
	assert.Nil(t, ec)
	assert.Equal(t, int64(1), a.f.failedN.Load())
}

func TestAStoppedAgentIgnoresWhatComesLate(t *testing.T) {
	t.Parallel()
	a := offline(t, Options{ApplyDelay: time.Hour}, 0)
	a.receiveConfig(remoteConfig("a: 1", 0xa))
	a.mu.Lock()
	a.stopped = true
	gen := a.gen
	a.mu.Unlock()
	a.finishApply(gen)
	assert.Equal(t, "APPLYING", a.status().Status)
	a.receiveConfig(remoteConfig("b: 1", 0xb))
	assert.Equal(t, "0a", a.status().ConfigHash)
	a.Errorf(t.Context(), "Unexpected error while receiving: %v", "EOF")
	assert.Empty(t, a.f.Stats().Errors, "errors while stopping are the stop's")
}

func TestClientErrorsAreCountedByKind(t *testing.T) {
	t.Parallel()
	f := &Fleet{o: Options{Count: 1}.withDefaults()}
	a := newAgent(f, Identity{Index: 0, InstanceUID: "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b", Token: "t"})
	a.Debugf(t.Context(), "ignored")
	a.Errorf(t.Context(), "Server responded with status=%v", "401 Unauthorized")
	a.Errorf(t.Context(), "Connection failed (%v), will retry.", "websocket: bad handshake") // the same attempt
	a.Errorf(t.Context(), "Connection failed (%v), will retry.", "dial tcp: connection refused")
	a.Errorf(t.Context(), "%v", "invalid response from server: 403")
	a.Errorf(t.Context(), "Failed to do HTTP request (%v), will retry", "server response code=503")
	a.Errorf(t.Context(), "Failed to do HTTP request (%v), will retry", "EOF")
	a.Errorf(t.Context(), "Unexpected error while receiving: %v", "EOF")
	a.Errorf(t.Context(), "Cannot write WS message: %v", "broken pipe")
	a.Errorf(t.Context(), "cannot unmarshal response: %v", "bad")
	a.f.countError(serverErrorKind(&protobufs.ServerErrorResponse{Type: protobufs.ServerErrorResponseType_ServerErrorResponseType_BadRequest}), "")
	st := a.f.Stats()
	assert.Equal(t, map[string]int{
		"refused 401": 1, "refused 403": 1, "refused 503": 1, ErrConnect: 2, ErrConnectionLost: 1, ErrSend: 1, ErrClient: 1,
		"server error BadRequest": 1,
	}, st.Errors)
	assert.Equal(t, 9, st.ErrorCount())
	assert.Equal(t, "Server responded with status=401 Unauthorized", st.ErrorExamples["refused 401"])
}
