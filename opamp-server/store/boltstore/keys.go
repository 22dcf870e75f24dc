package boltstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"time"
)

// Buckets. Keys are laid out so that every ordering the store.Store
// interface promises is a key scan.
var (
	// bucketMeta holds keySchemaVersion.
	bucketMeta       = []byte("meta")
	keySchemaVersion = []byte("schema_version")
	// bucketAgents: instance UID → Agent JSON, without the effective
	// configuration's text (records written before schema 3 may hold it).
	bucketAgents = []byte("agents")
	// bucketEffectiveConfigs: instance UID → effective-config hash ‖ NUL ‖
	// text. Apart from the record: it is about 10 KiB, changes only when
	// the collector's configuration does, and only an agent's own view
	// shows it.
	bucketEffectiveConfigs = []byte("agent_effective_configs")
	// bucketAssignments: instance UID → assignmentHead JSON: the record
	// without Config, naming its stored text (records written before
	// schema 4 hold the text, at schema 4 in bucketAssignmentConfigs; Open
	// migrates both).
	bucketAssignments = []byte("assignments")
	// bucketAssignmentConfigs: instance UID → config hash ‖ NUL ‖ text, the
	// layout of schema 4. Open migrates them to bucketTexts; reads accept
	// them still, so an interrupted migration leaves a readable file.
	bucketAssignmentConfigs = []byte("assignment_configs")
	// bucketTexts: hex SHA-256 of a stored text → the text (schema 5): each
	// distinct assignment text once, templated by agent
	// (store.TemplateText), so a fleet's renderings of one pipeline are one
	// text. Apart from the head: agent lists never read it.
	bucketTexts = []byte("assignment_texts")
	// bucketTextRefs: text hash → number of heads referencing it
	// (big-endian), kept exact in the transaction that changes them; a
	// text goes with its last reference.
	bucketTextRefs = []byte("assignment_text_refs")
	// bucketGenerations: instance UID → last assignment generation; kept
	// when an assignment is deleted so generations never repeat.
	bucketGenerations = []byte("assignment_generations")
	// bucketSamples: sampleKey → value (IEEE 754 bits, big-endian).
	bucketSamples = []byte("samples")
	// bucketSamplesByMinute: minute ‖ uid NUL name NUL variant → empty; the
	// retention index.
	bucketSamplesByMinute = []byte("samples_by_minute")
	// bucketExperiments: ID → Experiment JSON.
	bucketExperiments = []byte("experiments")
	// bucketExperimentsByCreated: created-at ‖ ID → empty; the listing order.
	bucketExperimentsByCreated = []byte("experiments_by_created")
	// bucketEvents holds one nested bucket per experiment ID whose keys are
	// big-endian sequence numbers from the nested bucket's NextSequence.
	bucketEvents = []byte("experiment_events")

	// bucketCredentials: instance UID → AgentCredential JSON.
	bucketCredentials = []byte("agent_credentials")
	// bucketCredentialsByDigest: token digest → instance UID, for the
	// current and the previous token of every credential.
	bucketCredentialsByDigest = []byte("agent_credentials_by_digest")

	// bucketRollouts: ID → Rollout JSON (progressive assignments).
	bucketRollouts = []byte("rollouts")

	allBuckets = [][]byte{
		bucketAgents, bucketEffectiveConfigs, bucketAssignments, bucketAssignmentConfigs, bucketTexts, bucketTextRefs,
		bucketGenerations, bucketSamples,
		bucketSamplesByMinute, bucketExperiments, bucketExperimentsByCreated, bucketEvents,
		bucketCredentials, bucketCredentialsByDigest, bucketRollouts,
	}
)

const sep = 0 // separates key parts; store validation keeps NUL out of keys

func encodeUint(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func decodeUint(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// appendTime appends t's microseconds since the Unix epoch with the sign bit
// flipped, so byte order is time order, before 1970 too.
func appendTime(b []byte, t time.Time) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(t.UnixMicro())^(1<<63))
}

func decodeTime(b []byte) time.Time {
	return time.UnixMicro(int64(binary.BigEndian.Uint64(b) ^ (1 << 63))).UTC()
}

// seriesKey is uid NUL name NUL variant NUL: the prefix of one series.
func seriesKey(uid, name, variant string) []byte {
	b := make([]byte, 0, len(uid)+len(name)+len(variant)+3+8)
	b = append(append(b, uid...), sep)
	b = append(append(b, name...), sep)
	return append(append(b, variant...), sep)
}

// sampleKey orders samples by uid, name, variant, minute: NUL sorts before
// every other byte, so "a" NUL … precedes "ab" NUL ….
func sampleKey(uid, name, variant string, minute time.Time) []byte {
	return appendTime(seriesKey(uid, name, variant), minute)
}

// parseSampleKey splits a sampleKey, its strings shared through in.
func parseSampleKey(k []byte, in interner) (uid, name, variant string, minute time.Time, ok bool) {
	if len(k) < 8+3 {
		return "", "", "", time.Time{}, false
	}
	parts := bytes.SplitN(k[:len(k)-8-1], []byte{sep}, 3)
	if len(parts) != 3 {
		return "", "", "", time.Time{}, false
	}
	return in.get(parts[0]), in.get(parts[1]), in.get(parts[2]), decodeTime(k[len(k)-8:]), true
}

// minuteKey is the retention index key of a sample.
func minuteKey(uid, name, variant string, minute time.Time) []byte {
	return append(appendTime(nil, minute), seriesKey(uid, name, variant)...)
}

// createdKey orders experiments by creation time, then ID.
func createdKey(created time.Time, id string) []byte {
	return append(appendTime(nil, created), id...)
}

// marshal encodes a record as JSON without HTML escaping, so embedded JSON
// documents keep their canonical bytes.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
