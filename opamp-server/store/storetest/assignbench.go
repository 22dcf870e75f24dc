package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// benchConfig is a ~10 KiB collector configuration of one agent: a fleet's
// rendering of one pipeline differs between agents only by the UID, which
// names the agent's own telemetry.
func benchConfig(uid string) string {
	var b strings.Builder
	b.WriteString("receivers:\n  otlp:\n    protocols:\n      grpc: {}\nprocessors:\n")
	for i := 0; b.Len() < 10*1024-200; i++ {
		fmt.Fprintf(&b, "  filter/rule_%03d:\n    metrics:\n      exclude:\n        match_type: regexp\n        metric_names: [\"^noise_%03d_.*\"]\n", i, i)
	}
	fmt.Fprintf(&b, "service:\n  telemetry:\n    resource:\n      service.instance.id: %s\n", uid)
	return b.String()
}

// BenchmarkSetAssignments stores 1,000 assignments in one call, as a
// fleet-wide assignment does a page at a time: the same ~10 KiB text but
// for each agent's UID. Each iteration assigns a new text to the same
// agents, so every text is replaced.
func BenchmarkSetAssignments(b *testing.B, s store.Store) {
	const agents = 1000
	asgs := make([]apitypes.Assignment, agents)
	for i := range asgs {
		uid := fmt.Sprintf("agent-%05d", i)
		asgs[i] = apitypes.Assignment{InstanceUID: uid, Pipeline: "p", Reason: "bench"}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for round := range b.N {
		b.StopTimer()
		for i := range asgs {
			asgs[i].Config = benchConfig(asgs[i].InstanceUID) + fmt.Sprintf("# round %d\n", round)
			asgs[i].ConfigHash = ""
		}
		b.StartTimer()
		if _, err := s.SetAssignments(b.Context(), asgs); err != nil {
			b.Fatal(err)
		}
	}
}
