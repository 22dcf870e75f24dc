// Package decision carries what Phoenix's processors decided about each process
// to whoever explains it: the processz extension. Processors find a Recorder
// among the collector's extensions at Start; with none configured they record
// nothing and pay nothing.
package decision // import "github.com/phoenix/platform/processors/contract/decision"

import (
	"go.opentelemetry.io/collector/component"
)

// Outcome is what a processor did with a process.
type Outcome string

// Outcomes, in the order a process meets them along the chain.
const (
	// Critical: matched a process_critical rule; never dropped or rolled up.
	Critical Outcome = "critical"
	// Kept: exported as its own series by process_topk.
	Kept Outcome = "kept"
	// RolledUp: folded into an aggregate series by process_rollup.
	RolledUp Outcome = "rolled_up"
	// Dropped: removed by process_topk (others: drop).
	Dropped Outcome = "dropped"
)

// Record is one processor's decision about one process in one batch. Fields a
// processor has no say in stay zero.
type Record struct {
	PID        int64   `json:"pid"`
	Host       string  `json:"host,omitempty"`
	Executable string  `json:"executable"`
	Outcome    Outcome `json:"outcome"`
	// Rule is the matching process_critical rule.
	Rule string `json:"rule,omitempty"`
	// Rank is the process's best 1-based rank among the ranking keys
	// (process_topk); 0 when unranked (critical processes).
	Rank int `json:"rank,omitempty"`
	// RankBy names the ranking key that gave Rank ("cpu" or "memory").
	RankBy string `json:"rank_by,omitempty"`
	// CPURate is CPU seconds per second; MemoryRSS is bytes (process_topk).
	CPURate   float64 `json:"cpu_rate,omitempty"`
	MemoryRSS int64   `json:"memory_rss,omitempty"`
	// OutStreak counts consecutive scrapes out of the top k for a process kept
	// by hysteresis.
	OutStreak int `json:"out_streak,omitempty"`
	// Group names the rollup group (process_rollup).
	Group string `json:"group,omitempty"`
}

// Recorder receives each processor's decisions for its latest batch. A call
// replaces what the same source recorded before. The slice is handed over: the
// caller never touches it again. Implementations must be safe for concurrent use.
type Recorder interface {
	RecordDecisions(source component.ID, records []Record)
}

// FindRecorder returns the host's Recorder extension, or nil when there is
// none. With several, every processor picks the same one: the smallest
// component ID.
func FindRecorder(host component.Host) Recorder {
	if host == nil {
		return nil
	}
	var found Recorder
	var foundID string
	for id, ext := range host.GetExtensions() {
		if r, ok := ext.(Recorder); ok && (found == nil || id.String() < foundID) {
			found, foundID = r, id.String()
		}
	}
	return found
}
