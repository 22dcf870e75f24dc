// Package store is the control plane's persistence: the agent inventory, the
// configuration assigned to each agent, collectors' own-telemetry series and
// cross-replica change notification. One interface, two implementations
// (embedded bbolt, PostgreSQL), one conformance suite (storetest) for both.
// The records it keeps are the API's (apitypes.Agent, apitypes.Assignment,
// apitypes.Sample, apitypes.ExperimentEvent): what is stored is what is
// served.
package store // import "github.com/phoenix/platform/opamp-server/store"

import (
	"time"
)

// AgentFilter selects agents. Zero fields do not filter.
type AgentFilter struct {
	// Labels must all be present with equal values.
	Labels map[string]string
	// Online, when set, selects agents by connection state.
	Online *bool
}

// Page asks for one page of a listing ordered by key. After is the opaque
// cursor returned with the previous page ("" for the first); Limit 0 means
// the store's default (100); the maximum is 1000.
type Page struct {
	After string
	Limit int
}

// SampleQuery selects samples of one agent, or of all agents when InstanceUID
// is empty. Name and Variant filter when set; From is inclusive and To
// exclusive, zero meaning unbounded.
type SampleQuery struct {
	InstanceUID string
	Name        string
	Variant     string
	From, To    time.Time
}

// ChangeKind says what changed.
type ChangeKind string

// Change kinds.
const (
	ChangeAgent      ChangeKind = "agent"
	ChangeAssignment ChangeKind = "assignment"
	ChangeExperiment ChangeKind = "experiment"
)

// Change tells replicas that a record changed. Consumers re-read it.
type Change struct {
	Kind ChangeKind `json:"kind"`
	ID   string     `json:"id"`
}

// AssignmentDepth is how much of an assignment a read returns: what
// GetAssignments, GetAssignmentHeads and GetAssignmentBriefs each give.
type AssignmentDepth int

// Assignment depths.
const (
	DepthFull  AssignmentDepth = iota // everything, the configuration's text too
	DepthHead                         // everything but the text
	DepthBrief                        // neither the text nor the parameters
)
