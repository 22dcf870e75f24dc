package opamp

import (
	"testing"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// FuzzAgentMessage decodes any AgentToServer as the endpoint does: a
// message within the limits becomes an agent record the store accepts, and
// nothing panics on the way.
func FuzzAgentMessage(f *testing.F) {
	uid := []byte{0x01, 0x90, 0xe0, 0xc4, 0x8f, 0x1a, 0x7c, 0x3e, 0x9d, 0x2b, 0x5a, 0x4f, 0x3e, 0x2d, 0x1c, 0x0b}
	for _, msg := range []*protobufs.AgentToServer{
		{InstanceUid: uid},
		{InstanceUid: uid, AgentDescription: &protobufs.AgentDescription{IdentifyingAttributes: []*protobufs.KeyValue{
			{Key: "service.name", Value: &protobufs.AnyValue{Value: &protobufs.AnyValue_StringValue{StringValue: "phoenix-collector"}}}}},
			Health:             &protobufs.ComponentHealth{Healthy: true, Status: "ok"},
			RemoteConfigStatus: &protobufs.RemoteConfigStatus{Status: protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED, ErrorMessage: "Config apply timeout exceeded"},
			EffectiveConfig: &protobufs.EffectiveConfig{ConfigMap: &protobufs.AgentConfigMap{ConfigMap: map[string]*protobufs.AgentConfigFile{
				"": {Body: []byte("receivers: {}\nAuthorization: Bearer 0123456789abcdef\n")}}}}},
	} {
		raw, err := proto.Marshal(msg)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var msg protobufs.AgentToServer
		if proto.Unmarshal(body, &msg) != nil {
			return
		}
		if v, _ := limitMessage(&msg); v != nil {
			return // refused with an OpAMP error
		}
		a := apitypes.Agent{InstanceUID: "0190e0c4-8f1a-7c3e-9d2b-5a4f3e2d1c0b", FirstSeen: now, LastSeen: now}
		apply(&a, &msg, now)
		if _, err := store.NormalizeAgent(a); err != nil {
			t.Fatalf("a message within the limits made a record the store refuses: %v", err)
		}
	})
}
