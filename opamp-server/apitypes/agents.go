package apitypes

import "time"

// ConfigStatus is an agent's report about its remote configuration.
type ConfigStatus string

// Remote configuration statuses, as the agent last reported them.
const (
	ConfigStatusUnset    ConfigStatus = "UNSET"
	ConfigStatusApplied  ConfigStatus = "APPLIED"
	ConfigStatusApplying ConfigStatus = "APPLYING"
	ConfigStatusFailed   ConfigStatus = "FAILED"
)

// ConnectionType is how an agent talks to the server.
type ConnectionType string

// Connection types.
const (
	ConnectionWebSocket ConnectionType = "websocket"
	ConnectionHTTP      ConnectionType = "http"
)

// Agent is one managed collector (a supervisor and its collector), identified
// by the supervisor's instance UID.
type Agent struct {
	// InstanceUID is the agent's OpAMP instance UID in canonical UUID text.
	InstanceUID string `json:"instance_uid"`
	// Description is what the agent reports about itself.
	Description AgentDescription `json:"description"`
	// Labels are the agent's non-identifying attributes (plus host.name and
	// service.name), used by label selectors.
	Labels map[string]string `json:"labels,omitempty"`
	// Capabilities is the agent's OpAMP capability bit field.
	Capabilities uint64 `json:"capabilities"`
	// Health is the agent's last reported health; nil before any report.
	Health *Health `json:"health,omitempty"`
	// EffectiveConfig is the configuration the collector reports running
	// (only on GET /agents/{uid}; secrets redacted), and its
	// hash (hex SHA-256 of the text).
	EffectiveConfig     string `json:"effective_config,omitempty"`
	EffectiveConfigHash string `json:"effective_config_hash,omitempty"`
	// RemoteConfig is the status of the last remote configuration.
	RemoteConfig RemoteConfigStatus `json:"remote_config"`
	// FailedConfigHashes are assigned configurations this agent reported
	// FAILED for; the server does not push them again. Newest last, bounded.
	FailedConfigHashes []string `json:"failed_config_hashes,omitempty"`
	// ApplyRetry is set while the server means to send a configuration
	// again because its only failure was the supervisor's apply timeout.
	ApplyRetry *ApplyRetry `json:"apply_retry,omitempty"`
	// ConnectionType is how the agent is connected, while Online.
	ConnectionType ConnectionType `json:"connection_type,omitempty"`
	// Online reports a live connection; ServerID names the replica holding it.
	Online   bool   `json:"online"`
	ServerID string `json:"server_id,omitempty"`
	// SequenceNum is the last message sequence number stored, to detect
	// gaps. LastSeen is when the agent's last stored message arrived: a
	// WebSocket agent's heartbeats alone are stored every two minutes, so
	// while it is connected both may lag by that much.
	SequenceNum uint64    `json:"sequence_num"`
	FirstSeen   time.Time `json:"first_seen"`
	LastSeen    time.Time `json:"last_seen"`
}

// AgentDescription is the agent's self-description.
type AgentDescription struct {
	HostName       string            `json:"host_name,omitempty"`
	OS             string            `json:"os,omitempty"`
	ServiceName    string            `json:"service_name,omitempty"`
	ServiceVersion string            `json:"service_version,omitempty"`
	Identifying    map[string]string `json:"identifying,omitempty"`
	NonIdentifying map[string]string `json:"non_identifying,omitempty"`
}

// Health is an agent's reported component health.
type Health struct {
	Healthy   bool      `json:"healthy"`
	Status    string    `json:"status,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	StartTime time.Time `json:"start_time,omitempty"`
}

// ApplyRetry is the server's plan to send a configuration again. The
// supervisor reports FAILED with "Config apply timeout exceeded" when the
// collector was not yet healthy as its config_apply_timeout fired: on a busy
// host that is a slow start, not a bad configuration, so the server retries
// it a bounded number of times instead of remembering the hash as failed.
type ApplyRetry struct {
	// Hash is the configuration to send again.
	Hash string `json:"hash"`
	// Attempts counts the apply timeouts the configuration has had so far,
	// and Limit how many the server tolerates before it counts as failed.
	Attempts int `json:"attempts"`
	Limit    int `json:"limit"`
	// NextAt is when the configuration is sent again.
	NextAt time.Time `json:"next_at"`
}

// Retrying reports whether the server still means to send hash again after
// an apply timeout.
func (a Agent) Retrying(hash string) bool {
	return hash != "" && a.ApplyRetry != nil && a.ApplyRetry.Hash == hash
}

// AwaitingRetry reports whether hash is planned to be sent again and the
// agent is not already applying (or running) a re-sent copy of it.
func (a Agent) AwaitingRetry(hash string) bool {
	return a.Retrying(hash) && (a.RemoteConfig.Hash != hash || a.RemoteConfig.Status == ConfigStatusFailed)
}

// RemoteConfigStatus is an agent's report about its remote configuration.
type RemoteConfigStatus struct {
	// Hash is the hex hash of the configuration the status is about.
	Hash         string       `json:"hash,omitempty"`
	Status       ConfigStatus `json:"status,omitempty"`
	ErrorMessage string       `json:"error_message,omitempty"`
	UpdatedAt    time.Time    `json:"updated_at,omitempty"`
}

// Assignment is the configuration the server wants an agent to run.
type Assignment struct {
	InstanceUID string `json:"instance_uid"`
	// Pipeline and Parameters say what Config was rendered from (a catalog
	// pipeline name, or "" for a configuration given verbatim).
	Pipeline   string         `json:"pipeline,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	// Config is the complete, validated collector configuration (YAML) and
	// ConfigHash its hex SHA-256.
	Config     string `json:"config"`
	ConfigHash string `json:"config_hash"`
	// Reason records why (who assigned it, or which experiment).
	Reason     string    `json:"reason,omitempty"`
	AssignedAt time.Time `json:"assigned_at"`
	// Generation increases by one on every change for an agent; it is set
	// by the store.
	Generation int64 `json:"generation"`
}

// Sample is one value of one collector own-telemetry series for one minute.
// Writing a sample for an existing (InstanceUID, Name, Variant, Minute)
// replaces its value.
type Sample struct {
	InstanceUID string `json:"instance_uid"`
	// Name is the series name, e.g. "otelcol_process_cpu_seconds" or
	// "cost_meter.datapoints".
	Name string `json:"name"`
	// Variant is the cost_meter variant ("" for whole-collector series).
	Variant string `json:"variant,omitempty"`
	// Minute is the start of the minute, truncated, in UTC.
	Minute time.Time `json:"minute"`
	Value  float64   `json:"value"`
}

// AgentView is an agent as the API shows it: the inventory record, its
// assignment and whether what it runs matches what it was assigned.
type AgentView struct {
	Agent
	// Assignment omits the configuration text unless it was asked for.
	Assignment *Assignment `json:"assignment,omitempty"`
	Drift      Drift       `json:"drift"`
}

// DriftState says how an agent's running configuration relates to its
// assignment.
type DriftState string

// Drift states.
const (
	DriftUnassigned DriftState = "unassigned" // nothing assigned
	DriftPending    DriftState = "pending"    // assigned, not yet received by the agent
	DriftApplying   DriftState = "applying"   // the agent is applying it
	DriftRetrying   DriftState = "retrying"   // its apply timed out; the server sends it again
	DriftFailed     DriftState = "failed"     // the agent could not apply it
	DriftInSync     DriftState = "in_sync"    // applied, and the effective config matches
	DriftDrifted    DriftState = "drifted"    // applied, but the effective config differs
	// DriftApplied is in_sync or drifted, not told apart: an agent summary
	// counts agents by it, without comparing configurations.
	DriftApplied DriftState = "applied"
)

// Drift compares an agent's effective configuration with its assignment.
type Drift struct {
	State DriftState `json:"state"`
	// Sections lists the top-level configuration sections that differ.
	Sections []string `json:"sections,omitempty"`
	Message  string   `json:"message,omitempty"`
}

// AssignRequest is the body of an assignment: a catalog pipeline with
// parameters, or a complete configuration given verbatim; exactly one of
// pipeline or config.
type AssignRequest struct {
	Pipeline   string         `json:"pipeline,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Config     string         `json:"config,omitempty"`
	// Reason is recorded with the assignment; default "assigned by <caller>".
	Reason string `json:"reason,omitempty"`
}

// BulkAssignRequest assigns to every agent matching a selector.
type BulkAssignRequest struct {
	AssignRequest
	// Selector is a label selector: "env=prod,host.name=~web-.*".
	Selector string `json:"selector"`
	// WaveOptions, when they name waves, assign progressively (202 and an
	// AssignmentRollout) instead of all at once.
	WaveOptions
}

// AssignResult reports one agent's new assignment.
type AssignResult struct {
	InstanceUID string `json:"instance_uid"`
	ConfigHash  string `json:"config_hash"`
	Generation  int64  `json:"generation"`
}

// AgentTokenEnv is the environment variable collectors find their agent's
// own credential in: rendered configurations reference it for own
// telemetry, so the token is never written into a configuration. The
// supervisor sets it in the collector's environment (agent::env) from the
// identity `phoenix agent enroll` wrote.
const AgentTokenEnv = "PHOENIX_AGENT_TOKEN"

// AgentParamLabelPrefix marks agent labels that set pipeline parameters for
// that agent: a supervisor describing itself with
// "phoenix.param.health_check_endpoint: 127.0.0.1:13134" gets that endpoint
// in every configuration rendered for it (for example several agents on a
// host).
const AgentParamLabelPrefix = "phoenix.param."

// AgentSummary counts the agents a selector matches by state: how a
// fleet-wide assignment is followed without listing 10,000 agents.
type AgentSummary struct {
	// Total is the number of agents; Online those with a live connection.
	Total  int `json:"total"`
	Online int `json:"online"`
	// Healthy and Unhealthy count the agents' last health reports; agents
	// that have not reported are in neither.
	Healthy   int `json:"healthy"`
	Unhealthy int `json:"unhealthy"`
	// Progress counts agents by how far they have come with their
	// assignment: unassigned, pending, applying, retrying, failed or
	// applied. Applied is in_sync or drifted: telling those apart compares
	// configurations, which an agent list or show does.
	Progress map[DriftState]int `json:"progress"`
	// Pipelines counts assigned agents by their assignment's pipeline; a
	// configuration given verbatim counts under "".
	Pipelines map[string]int `json:"pipelines,omitempty"`
}
