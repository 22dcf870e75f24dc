package store // import "github.com/phoenix/platform/opamp-server/store"

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Errors every implementation returns (wrapped) so callers can branch with
// errors.Is.
var (
	// ErrNotFound: no record with that key.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a create found the key taken, or a compare-and-swap update
	// found a newer version.
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the record or query is malformed; nothing was written.
	ErrInvalid = errors.New("invalid")
)

// Experiment is an A/B pipeline experiment. The store keeps Spec and State as
// opaque JSON documents owned by the experiment controller, so the schema
// stays stable while the controller evolves.
type Experiment struct {
	ID     string                    `json:"id"`
	Name   string                    `json:"name"`
	Status apitypes.ExperimentStatus `json:"status"`
	Spec   json.RawMessage           `json:"spec"`
	State  json.RawMessage           `json:"state,omitempty"`
	// Version is the optimistic-concurrency version: UpdateExperiment must be
	// given the version it read and stores version+1.
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ExperimentFilter selects experiments; empty Status selects all.
type ExperimentFilter struct {
	Status []apitypes.ExperimentStatus
}

// Store is the control plane's persistence. Implementations are safe for
// concurrent use. Every read returns copies: callers may modify results.
type Store interface {
	// UpsertAgent creates or replaces an agent record (keyed by InstanceUID).
	// An empty EffectiveConfig with the stored EffectiveConfigHash keeps the
	// stored text: the text (about 10 KiB) is written only when the
	// collector's configuration changes, not with every status report.
	UpsertAgent(ctx context.Context, a apitypes.Agent) error
	// GetAgent returns one agent, with its effective configuration's text,
	// or ErrNotFound.
	GetAgent(ctx context.Context, instanceUID string) (apitypes.Agent, error)
	// GetAgentBrief is GetAgent without the effective configuration's
	// text, as ListAgents returns agents: what handling a message needs.
	GetAgentBrief(ctx context.Context, instanceUID string) (apitypes.Agent, error)
	// ListAgents returns agents matching the filter ordered by InstanceUID,
	// one page at a time; next is "" on the last page. Listed agents leave
	// EffectiveConfig empty (EffectiveConfigHash is set): GetAgent has it.
	ListAgents(ctx context.Context, f AgentFilter, p Page) (agents []apitypes.Agent, next string, err error)
	// DeleteAgent removes an agent and its assignment; ErrNotFound when there
	// is no such agent. An agent that connects again is a new agent.
	DeleteAgent(ctx context.Context, instanceUID string) error
	// DeleteAgentsOfflineSince removes, with their assignments, the agents
	// offline and last seen before t, and returns their instance UIDs.
	DeleteAgentsOfflineSince(ctx context.Context, t time.Time) ([]string, error)
	// MarkServerAgentsOffline marks every agent held by serverID offline (a
	// replica starting up after a crash).
	MarkServerAgentsOffline(ctx context.Context, serverID string) error
	// Presence: each replica's lease on its agents (presence.go).
	Presence

	// CreateAgentCredential stores the credential of a newly enrolled agent;
	// ErrConflict if the agent has one or the token digest is in use.
	CreateAgentCredential(ctx context.Context, c AgentCredential) error
	// GetAgentCredential returns an agent's credential or ErrNotFound.
	GetAgentCredential(ctx context.Context, instanceUID string) (AgentCredential, error)
	// AgentCredentialByDigest returns the credential whose current token, or
	// previous token still inside its grace at now, has this digest;
	// ErrNotFound otherwise.
	AgentCredentialByDigest(ctx context.Context, digest string, now time.Time) (AgentCredential, error)
	// RotateAgentCredential gives an agent a new token digest; the current
	// one stays valid until previousValidUntil. ErrNotFound without a
	// credential, ErrConflict if the digest is in use.
	RotateAgentCredential(ctx context.Context, instanceUID, digest string, previousValidUntil, now time.Time) (AgentCredential, error)
	// DeleteAgentCredential revokes an agent's credential; ErrNotFound when
	// it has none. DeleteAgent and DeleteAgentsOfflineSince also remove the
	// credentials of the agents they delete, and the latter the credentials
	// enrolled before t that no agent ever used.
	DeleteAgentCredential(ctx context.Context, instanceUID string) error

	// SetAssignment stores the configuration assigned to an agent, setting
	// AssignedAt when zero and Generation to the previous one plus one, and
	// returns the stored record. It notifies watchers (ChangeAssignment).
	SetAssignment(ctx context.Context, a apitypes.Assignment) (apitypes.Assignment, error)
	// SetAssignments is SetAssignment for many, in one transaction: all are
	// stored or none. An invalid one fails the batch, named by its place.
	SetAssignments(ctx context.Context, asgs []apitypes.Assignment) ([]apitypes.Assignment, error)
	// GetAssignment returns an agent's assignment or ErrNotFound.
	GetAssignment(ctx context.Context, instanceUID string) (apitypes.Assignment, error)
	// GetAssignments returns, by instance UID, the assignments of those of
	// the named agents (at most MaxBatchKeys) that have one: a page of
	// agents' assignments in one read.
	GetAssignments(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error)
	// GetAssignmentHeads is GetAssignments without the configuration's
	// text: Config is empty, every other field (ConfigHash too) is set.
	// Agent lists read these; the text (about 10 KiB) is not even decoded.
	GetAssignmentHeads(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error)
	// GetAssignmentBriefs is GetAssignmentHeads without the parameters
	// either: InstanceUID, Pipeline, ConfigHash, Reason, AssignedAt and
	// Generation. Counting agents by progress needs no more, and the
	// parameters (the critical rules: about 2 KiB) are most of a head's
	// decoding.
	GetAssignmentBriefs(ctx context.Context, instanceUIDs []string) (map[string]apitypes.Assignment, error)
	// DeleteAssignment removes an agent's assignment (it then keeps what it
	// runs); deleting a missing one is not an error. Notifies watchers.
	DeleteAssignment(ctx context.Context, instanceUID string) error

	// PutSamples writes own-telemetry samples, replacing values with the
	// same (InstanceUID, Name, Variant, Minute).
	PutSamples(ctx context.Context, samples []apitypes.Sample) error
	// QuerySamples returns matching samples ordered by InstanceUID, Name,
	// Variant, Minute.
	QuerySamples(ctx context.Context, q SampleQuery) ([]apitypes.Sample, error)
	// QueryAgentsSamples is QuerySamples for many agents in one read: by
	// instance UID, what q with that InstanceUID returns (Name, Variant,
	// Minute order), for each of the named agents (at most MaxBatchKeys;
	// repeats are fine). q's own InstanceUID must be empty. An agent with
	// no matching sample has no entry. An analysis of thousands of agents
	// pays one round trip per page of them, not one per agent.
	QueryAgentsSamples(ctx context.Context, instanceUIDs []string, q SampleQuery) (map[string][]apitypes.Sample, error)
	// DeleteSamplesBefore drops samples older than t (retention).
	DeleteSamplesBefore(ctx context.Context, t time.Time) error

	// CreateExperiment stores a new experiment with Version 1; ErrConflict if
	// the ID exists. Notifies watchers (ChangeExperiment).
	CreateExperiment(ctx context.Context, e Experiment) (Experiment, error)
	// GetExperiment returns one experiment or ErrNotFound.
	GetExperiment(ctx context.Context, id string) (Experiment, error)
	// ListExperiments returns experiments ordered by CreatedAt then ID.
	ListExperiments(ctx context.Context, f ExperimentFilter, p Page) (exps []Experiment, next string, err error)
	// UpdateExperiment replaces an experiment if e.Version is the stored
	// version, storing Version+1 (ErrConflict otherwise). Notifies watchers.
	UpdateExperiment(ctx context.Context, e Experiment) (Experiment, error)
	// LockExperiment makes its caller the one owner of an experiment's
	// transitions, across every replica on the same data, until it calls
	// unlock: stop, deploy, promote and rollback never interleave. It waits
	// while another holds the lock, until ctx ends; a replica that dies
	// releases its locks (PostgreSQL ends its session). It is not bounded by
	// WithDeadlines: the owner may be deploying to a fleet.
	LockExperiment(ctx context.Context, id string) (unlock func(), err error)
	// AppendExperimentEvent adds an event, assigning its Seq.
	AppendExperimentEvent(ctx context.Context, ev apitypes.ExperimentEvent) (apitypes.ExperimentEvent, error)
	// ListExperimentEvents returns an experiment's events in Seq order.
	ListExperimentEvents(ctx context.Context, experimentID string) ([]apitypes.ExperimentEvent, error)

	// RolloutStore: progressive assignments (rollouts.go).
	RolloutStore

	// Watch delivers changes made through any store instance on the same
	// backing data (other replicas too, for PostgreSQL) until ctx ends. A
	// slow consumer may miss changes; it must treat a closed channel or a
	// gap as a cue to re-read what it cares about.
	Watch(ctx context.Context) (<-chan Change, error)
	// Ping checks that the store is usable (readiness).
	Ping(ctx context.Context) error
	// Close releases the store.
	Close() error
}
