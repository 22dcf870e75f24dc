package store

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// TimePrecision is the precision stores keep times at: PostgreSQL's.
const TimePrecision = time.Microsecond

// The Normalize functions validate a record and return the copy every
// implementation stores and returns, so both read back identical values:
// times in UTC truncated to TimePrecision (zero stays zero), empty maps and
// slices nil, JSON documents canonical. Implementations call them on every
// write and on every read; the result shares no memory with the argument.

// NormalizeTime returns t in UTC truncated to TimePrecision.
func NormalizeTime(t time.Time) time.Time {
	return t.Truncate(TimePrecision).UTC()
}

// NormalizeAgent validates a (InstanceUID required; every string valid UTF-8
// without NUL bytes, every time within years 1 to 9999) and returns its
// stored form.
func NormalizeAgent(a apitypes.Agent) (apitypes.Agent, error) {
	c := checker{record: "agent"}
	c.key("instance_uid", a.InstanceUID)
	d := &a.Description
	c.text("description.host_name", d.HostName)
	c.text("description.os", d.OS)
	c.text("description.service_name", d.ServiceName)
	c.text("description.service_version", d.ServiceVersion)
	c.strMap("description.identifying", d.Identifying)
	c.strMap("description.non_identifying", d.NonIdentifying)
	c.strMap("labels", a.Labels)
	c.text("effective_config", a.EffectiveConfig)
	c.text("effective_config_hash", a.EffectiveConfigHash)
	c.text("remote_config.hash", a.RemoteConfig.Hash)
	c.text("remote_config.status", string(a.RemoteConfig.Status))
	c.text("remote_config.error_message", a.RemoteConfig.ErrorMessage)
	for _, h := range a.FailedConfigHashes {
		c.text("failed_config_hashes", h)
	}
	if a.ApplyRetry != nil {
		c.text("apply_retry.hash", a.ApplyRetry.Hash)
		c.time("apply_retry.next_at", a.ApplyRetry.NextAt)
	}
	c.text("connection_type", string(a.ConnectionType))
	c.text("server_id", a.ServerID)
	if a.Health != nil {
		c.text("health.status", a.Health.Status)
		c.text("health.last_error", a.Health.LastError)
		c.time("health.start_time", a.Health.StartTime)
	}
	c.time("remote_config.updated_at", a.RemoteConfig.UpdatedAt)
	c.time("first_seen", a.FirstSeen)
	c.time("last_seen", a.LastSeen)
	if c.err != nil {
		return apitypes.Agent{}, c.err
	}

	d.Identifying = cloneMap(d.Identifying)
	d.NonIdentifying = cloneMap(d.NonIdentifying)
	a.Labels = cloneMap(a.Labels)
	if a.Health != nil {
		h := *a.Health
		h.StartTime = NormalizeTime(h.StartTime)
		a.Health = &h
	}
	a.RemoteConfig.UpdatedAt = NormalizeTime(a.RemoteConfig.UpdatedAt)
	if a.ApplyRetry != nil {
		r := *a.ApplyRetry
		r.NextAt = NormalizeTime(r.NextAt)
		a.ApplyRetry = &r
	}
	if len(a.FailedConfigHashes) == 0 {
		a.FailedConfigHashes = nil
	} else {
		a.FailedConfigHashes = slices.Clone(a.FailedConfigHashes)
	}
	a.FirstSeen = NormalizeTime(a.FirstSeen)
	a.LastSeen = NormalizeTime(a.LastSeen)
	return a, nil
}

// NormalizeAssignment validates a (InstanceUID and Config required;
// ConfigHash, when set, must be the hex SHA-256 of Config) and returns its
// stored form: ConfigHash filled in when empty, AssignedAt set to now when
// zero, and Parameters as they read back from JSON (numbers are float64).
// Generation is the caller's to set.
func NormalizeAssignment(a apitypes.Assignment, now time.Time) (apitypes.Assignment, error) {
	c := checker{record: "assignment"}
	c.key("instance_uid", a.InstanceUID)
	c.text("pipeline", a.Pipeline)
	if a.Config == "" {
		c.fail("config", "must not be empty")
	}
	c.text("config", a.Config)
	c.text("reason", a.Reason)
	c.time("assigned_at", a.AssignedAt)
	if c.err != nil {
		return apitypes.Assignment{}, c.err
	}
	switch hash := HashConfig([]byte(a.Config)); a.ConfigHash {
	case "":
		a.ConfigHash = hash
	case hash:
	default:
		return apitypes.Assignment{}, fmt.Errorf("%w: assignment config_hash: %q is not the SHA-256 of config (%s)", ErrInvalid, a.ConfigHash, hash)
	}
	params, err := NormalizeParameters(a.Parameters)
	if err != nil {
		return apitypes.Assignment{}, err
	}
	a.Parameters = params
	if a.AssignedAt.IsZero() {
		a.AssignedAt = now
	}
	a.AssignedAt = NormalizeTime(a.AssignedAt)
	return a, nil
}

// NormalizeParameters returns assignment parameters as they read back from
// their JSON document: a deep copy with JSON types (numbers float64); empty
// is nil.
func NormalizeParameters(p map[string]any) (map[string]any, error) {
	if len(p) == 0 {
		return nil, nil
	}
	doc, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("%w: assignment parameters: %v", ErrInvalid, err)
	}
	return DecodeParameters(doc)
}

// DecodeParameters decodes a stored parameters document.
func DecodeParameters(doc []byte) (map[string]any, error) {
	doc, err := CanonicalJSON("assignment parameters", doc)
	if err != nil || doc == nil {
		return nil, err
	}
	var p map[string]any
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("%w: assignment parameters: %v", ErrInvalid, err)
	}
	if len(p) == 0 {
		return nil, nil
	}
	return p, nil
}

// NormalizeSamples validates samples (InstanceUID and Name required, Minute
// not zero, Value finite: NaN and infinities have no JSON form and would
// poison every figure computed from them) and returns their stored form:
// Minute truncated to the minute in UTC, and one sample per key, the last
// one given winning.
func NormalizeSamples(samples []apitypes.Sample) ([]apitypes.Sample, error) {
	type key struct {
		uid, name, variant string
		minute             time.Time
	}
	out := make([]apitypes.Sample, 0, len(samples))
	index := make(map[key]int, len(samples))
	for i, s := range samples {
		c := checker{record: fmt.Sprintf("samples[%d]", i)}
		c.key("instance_uid", s.InstanceUID)
		c.key("name", s.Name)
		c.optionalKey("variant", s.Variant)
		if s.Minute.IsZero() {
			c.fail("minute", "must not be zero")
		}
		c.time("minute", s.Minute)
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			c.fail("value", "%v is not a finite number", s.Value)
		}
		if c.err != nil {
			return nil, c.err
		}
		s.Minute = s.Minute.Truncate(time.Minute).UTC()
		k := key{s.InstanceUID, s.Name, s.Variant, s.Minute}
		if j, ok := index[k]; ok {
			out[j] = s
			continue
		}
		index[k] = len(out)
		out = append(out, s)
	}
	return out, nil
}

// NormalizeSampleQuery validates q (To not before From) and returns it with
// its bounds normalized.
func NormalizeSampleQuery(q SampleQuery) (SampleQuery, error) {
	c := checker{record: "sample query"}
	c.optionalKey("instance_uid", q.InstanceUID)
	c.optionalKey("name", q.Name)
	c.optionalKey("variant", q.Variant)
	c.time("from", q.From)
	c.time("to", q.To)
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		c.fail("to", "before from")
	}
	q.From, q.To = NormalizeTime(q.From), NormalizeTime(q.To)
	return q, c.err
}

// NormalizeAgentsSampleQuery validates QueryAgentsSamples's arguments
// (uids as ValidateKeys checks them, q as NormalizeSampleQuery does, with
// no InstanceUID of its own) and returns the uids sorted without repeats,
// and q normalized.
func NormalizeAgentsSampleQuery(uids []string, q SampleQuery) ([]string, SampleQuery, error) {
	if err := ValidateKeys("instance_uid", uids); err != nil {
		return nil, SampleQuery{}, err
	}
	if q.InstanceUID != "" {
		return nil, SampleQuery{}, fmt.Errorf("%w: sample query instance_uid: must be empty when the agents are listed", ErrInvalid)
	}
	q, err := NormalizeSampleQuery(q)
	if err != nil {
		return nil, SampleQuery{}, err
	}
	return slices.Compact(slices.Sorted(slices.Values(uids))), q, nil
}

// NormalizeExperiment validates e (ID required, Status one of the
// Experiment* statuses, Spec a JSON document, State empty or one) and
// returns its stored form with canonical documents (see CanonicalJSON).
func NormalizeExperiment(e Experiment) (Experiment, error) {
	c := checker{record: "experiment"}
	c.key("id", e.ID)
	c.text("name", e.Name)
	if !validStatus(e.Status) {
		c.fail("status", "unknown status %q", e.Status)
	}
	c.time("created_at", e.CreatedAt)
	c.time("updated_at", e.UpdatedAt)
	if c.err != nil {
		return Experiment{}, c.err
	}
	spec, err := CanonicalJSON("experiment spec", e.Spec)
	if err != nil {
		return Experiment{}, err
	}
	if spec == nil {
		return Experiment{}, fmt.Errorf("%w: experiment spec: must be a JSON document", ErrInvalid)
	}
	state, err := CanonicalJSON("experiment state", e.State)
	if err != nil {
		return Experiment{}, err
	}
	e.Spec, e.State = spec, state
	e.CreatedAt = NormalizeTime(e.CreatedAt)
	e.UpdatedAt = NormalizeTime(e.UpdatedAt)
	return e, nil
}

// NormalizeExperimentEvent validates ev (ExperimentID and Cause required)
// and returns its stored form, Time set to now when zero. Seq is the
// caller's to set.
func NormalizeExperimentEvent(ev apitypes.ExperimentEvent, now time.Time) (apitypes.ExperimentEvent, error) {
	c := checker{record: "experiment event"}
	c.key("experiment_id", ev.ExperimentID)
	c.text("from", string(ev.From))
	c.text("to", string(ev.To))
	if ev.Cause == "" {
		c.fail("cause", "must not be empty")
	}
	c.text("cause", ev.Cause)
	c.time("time", ev.Time)
	if c.err != nil {
		return apitypes.ExperimentEvent{}, c.err
	}
	if ev.Time.IsZero() {
		ev.Time = now
	}
	ev.Time = NormalizeTime(ev.Time)
	return ev, nil
}

// ValidateExperimentFilter checks that f names only known statuses.
func ValidateExperimentFilter(f ExperimentFilter) error {
	for _, s := range f.Status {
		if !validStatus(s) {
			return fmt.Errorf("%w: experiment filter status: unknown status %q", ErrInvalid, s)
		}
	}
	return nil
}

// ValidateAgentFilter checks the filter's label strings.
func ValidateAgentFilter(f AgentFilter) error {
	c := checker{record: "agent filter"}
	c.strMap("labels", f.Labels)
	return c.err
}

// MatchAgent reports whether a passes f.
func MatchAgent(a *apitypes.Agent, f AgentFilter) bool {
	if f.Online != nil && a.Online != *f.Online {
		return false
	}
	for k, v := range f.Labels {
		if got, ok := a.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func validStatus(s apitypes.ExperimentStatus) bool {
	switch s {
	case apitypes.ExperimentPending, apitypes.ExperimentDeploying, apitypes.ExperimentRunning, apitypes.ExperimentAnalyzing,
		apitypes.ExperimentCompleted, apitypes.ExperimentFailed, apitypes.ExperimentCancelled:
		return true
	}
	return false
}

func cloneMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
