package opamp

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

var now = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

func str(k, v string) *protobufs.KeyValue {
	return &protobufs.KeyValue{Key: k, Value: &protobufs.AnyValue{Value: &protobufs.AnyValue_StringValue{StringValue: v}}}
}

func status(hash string, st protobufs.RemoteConfigStatuses, msg string) *protobufs.AgentToServer {
	h, _ := hex.DecodeString(hash)
	return &protobufs.AgentToServer{RemoteConfigStatus: &protobufs.RemoteConfigStatus{LastRemoteConfigHash: h, Status: st, ErrorMessage: msg}}
}

func TestApplyDescriptionHealthAndConfig(t *testing.T) {
	var a apitypes.Agent
	msg := &protobufs.AgentToServer{
		SequenceNum:  3,
		Capabilities: 0x7,
		AgentDescription: &protobufs.AgentDescription{
			IdentifyingAttributes:    []*protobufs.KeyValue{str("service.name", "phoenix-collector"), str("service.version", "0.1.0")},
			NonIdentifyingAttributes: []*protobufs.KeyValue{str("host.name", "web-1"), str("os.type", "linux"), str("env", "prod")},
		},
		Health: &protobufs.ComponentHealth{Healthy: true, Status: "StatusOK", StartTimeUnixNano: uint64(now.UnixNano())},
		EffectiveConfig: &protobufs.EffectiveConfig{ConfigMap: &protobufs.AgentConfigMap{ConfigMap: map[string]*protobufs.AgentConfigFile{
			"": {Body: []byte("receivers: {}\n")},
		}}},
	}
	apply(&a, msg, now)
	assert.Equal(t, "web-1", a.Description.HostName)
	assert.Equal(t, "linux", a.Description.OS)
	assert.Equal(t, "phoenix-collector", a.Description.ServiceName)
	assert.Equal(t, "0.1.0", a.Description.ServiceVersion)
	assert.Equal(t, map[string]string{"host.name": "web-1", "os.type": "linux", "env": "prod", "service.name": "phoenix-collector"}, a.Labels)
	require.NotNil(t, a.Health)
	assert.True(t, a.Health.Healthy)
	assert.Equal(t, now, a.Health.StartTime)
	assert.Equal(t, "receivers: {}\n", a.EffectiveConfig)
	assert.Equal(t, store.HashConfig([]byte("receivers: {}\n")), a.EffectiveConfigHash)
	assert.Equal(t, uint64(3), a.SequenceNum)
	assert.Equal(t, uint64(7), a.Capabilities)
	assert.Equal(t, now, a.FirstSeen)

	// A later heartbeat keeps what it does not carry.
	apply(&a, &protobufs.AgentToServer{SequenceNum: 4}, now.Add(time.Minute))
	assert.Equal(t, "web-1", a.Description.HostName)
	assert.Equal(t, now, a.FirstSeen)
	assert.Equal(t, now.Add(time.Minute), a.LastSeen)
}

func TestFailedHashesAreRememberedUntilApplied(t *testing.T) {
	good, bad := store.HashConfig([]byte("good")), store.HashConfig([]byte("bad"))
	var a apitypes.Agent
	assert.True(t, apply(&a, status(bad, protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED, "boom"), now))
	assert.Equal(t, []string{bad}, a.FailedConfigHashes)
	assert.Equal(t, "boom", a.RemoteConfig.ErrorMessage)

	// Rollback: the old config reports APPLIED under its own hash.
	apply(&a, status(good, protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED, ""), now)
	assert.Equal(t, []string{bad}, a.FailedConfigHashes, "a rollback must not forget the failed hash")
	assert.False(t, needsConfig(a, &apitypes.Assignment{ConfigHash: bad}, now), "a failed config must never be re-sent")
	assert.True(t, needsConfig(a, &apitypes.Assignment{ConfigHash: store.HashConfig([]byte("fixed"))}, now))

	// The same hash applied later (e.g. fixed environment) clears it.
	apply(&a, status(bad, protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED, ""), now)
	assert.Empty(t, a.FailedConfigHashes)
}

func TestFailedHashesAreBounded(t *testing.T) {
	var a apitypes.Agent
	for i := range 40 {
		apply(&a, status(store.HashConfig([]byte{byte(i)}), protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED, ""), now)
	}
	assert.Len(t, a.FailedConfigHashes, maxFailedHashes)
	assert.Equal(t, store.HashConfig([]byte{39}), a.FailedConfigHashes[maxFailedHashes-1])
}

func TestNeedsConfig(t *testing.T) {
	h := store.HashConfig([]byte("x"))
	assert.False(t, needsConfig(apitypes.Agent{}, nil, now))
	assert.True(t, needsConfig(apitypes.Agent{}, &apitypes.Assignment{ConfigHash: h}, now))
	assert.False(t, needsConfig(apitypes.Agent{RemoteConfig: apitypes.RemoteConfigStatus{Hash: h, Status: apitypes.ConfigStatusApplying}}, &apitypes.Assignment{ConfigHash: h}, now))
}

func TestRemoteConfigIsOneDocumentUnderEmptyKey(t *testing.T) {
	asg := &apitypes.Assignment{Config: "receivers: {}\n", ConfigHash: store.HashConfig([]byte("receivers: {}\n"))}
	rc := remoteConfig(asg)
	require.Len(t, rc.GetConfig().GetConfigMap(), 1)
	assert.Equal(t, "receivers: {}\n", string(rc.GetConfig().GetConfigMap()[""].GetBody()))
	assert.Equal(t, asg.ConfigHash, hex.EncodeToString(rc.GetConfigHash()))
}

func TestInstanceUID(t *testing.T) {
	uid, err := instanceUID([]byte{0x01, 0x90, 0xe0, 0xc4, 0x8f, 0x1a, 0x7c, 0x3e, 0x9d, 0x2b, 0x5a, 0x4f, 0x3e, 0x2d, 0x1c, 0x0b})
	require.NoError(t, err)
	assert.Equal(t, "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b", uid)
	_, err = instanceUID([]byte{1, 2, 3})
	assert.Error(t, err)
}

func TestMessageKinds(t *testing.T) {
	assert.Equal(t, []string{"heartbeat"}, messageKinds(&protobufs.AgentToServer{}))
	assert.Equal(t, []string{"health", "remote_config_status"}, messageKinds(&protobufs.AgentToServer{
		Health: &protobufs.ComponentHealth{}, RemoteConfigStatus: &protobufs.RemoteConfigStatus{}}))
}

// TestEffectiveConfigIsStoredWithoutSecrets replays the finding: the agent
// token the supervisor writes into the effective configuration was stored
// in plaintext.
func TestEffectiveConfigIsStoredWithoutSecrets(t *testing.T) {
	reported := "extensions:\n  opamp:\n    server:\n      ws:\n        headers:\n          Authorization: Bearer 0123456789abcdef0123\n"
	msg := &protobufs.AgentToServer{EffectiveConfig: &protobufs.EffectiveConfig{ConfigMap: &protobufs.AgentConfigMap{
		ConfigMap: map[string]*protobufs.AgentConfigFile{"": {Body: []byte(reported)}}}}}
	var a apitypes.Agent
	apply(&a, msg, time.Now())
	assert.NotContains(t, a.EffectiveConfig, "0123456789abcdef0123")
	assert.Contains(t, a.EffectiveConfig, "Bearer <redacted>")
	assert.Equal(t, store.HashConfig([]byte(reported)), a.EffectiveConfigHash, "the hash names what the collector runs")
}
