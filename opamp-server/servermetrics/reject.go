package servermetrics // import "github.com/phoenix/platform/opamp-server/servermetrics"

import (
	"log/slog"
	"sync"
	"time"
)

// Sources of agent input, the source label of AgentInputRejected.
const (
	// SourceOpAMP is the OpAMP endpoint: supervisors' messages.
	SourceOpAMP = "opamp"
	// SourceOwnTelemetry is the own-telemetry endpoint: collectors' OTLP
	// metrics.
	SourceOwnTelemetry = "own_telemetry"
)

// Reasons agent input is refused or cut, the reason label of
// AgentInputRejected. The "Limits on agent input" section of the security
// documentation (docs/security.md, "Limits on agent input") lists the limit behind each.
const (
	// ReasonBodyTooLarge: an HTTP body over its limit, as sent or after
	// decompression.
	ReasonBodyTooLarge = "body_too_large"
	// ReasonBadEncoding: a Content-Encoding other than gzip or identity, or
	// a corrupt gzip stream.
	ReasonBadEncoding = "bad_encoding"
	// ReasonMessageTooLarge: a WebSocket message over the read limit.
	ReasonMessageTooLarge = "message_too_large"
	// ReasonConfigTooLarge: an effective configuration over its limit, in
	// bytes or files.
	ReasonConfigTooLarge = "config_too_large"
	// ReasonTooManyAttributes: an agent description with too many
	// attributes.
	ReasonTooManyAttributes = "too_many_attributes"
	// ReasonAttributeTooLong: an attribute key or value over its limit.
	ReasonAttributeTooLong = "attribute_too_long"
	// ReasonHashTooLong: a configuration hash longer than any digest.
	ReasonHashTooLong = "hash_too_long"
	// ReasonInvalidText: a string the store cannot hold (not UTF-8, or a
	// NUL byte).
	ReasonInvalidText = "invalid_text"
	// ReasonTextTruncated: a diagnostic text (an error message, a health
	// status) or a blind-spot example's host or process name cut to its
	// limit; the message or data point itself is accepted.
	ReasonTextTruncated = "text_truncated"
	// ReasonNonFinite: a NaN or infinite value.
	ReasonNonFinite = "non_finite"
	// ReasonFutureTimestamp: a data point dated after now plus the allowed
	// clock skew.
	ReasonFutureTimestamp = "future_timestamp"
	// ReasonExpiredTimestamp: a data point dated before the sample
	// retention window.
	ReasonExpiredTimestamp = "expired_timestamp"
	// ReasonInvalidSeries: an instance ID, series name or variant the store
	// cannot key a sample by.
	ReasonInvalidSeries = "invalid_series"
	// ReasonTooManySeries: more series in one export than the limit.
	ReasonTooManySeries = "too_many_series"
)

// inputRejectionReasons are the reasons each source reports; their series
// start at zero.
var inputRejectionReasons = map[string][]string{
	SourceOpAMP: {ReasonBodyTooLarge, ReasonBadEncoding, ReasonMessageTooLarge, ReasonConfigTooLarge,
		ReasonTooManyAttributes, ReasonAttributeTooLong, ReasonHashTooLong, ReasonInvalidText, ReasonTextTruncated},
	SourceOwnTelemetry: {ReasonBodyTooLarge, ReasonBadEncoding, ReasonNonFinite, ReasonFutureTimestamp,
		ReasonExpiredTimestamp, ReasonInvalidSeries, ReasonTooManySeries, ReasonTextTruncated},
}

// RejectLogInterval is the least time between two log lines for the same
// source, reason and agent.
const RejectLogInterval = time.Minute

// maxRejectLogKeys bounds the log limiter's memory. Agents are named by
// what they send, so a sender inventing names could otherwise grow it
// without end: beyond this many keys within one interval, lines for new
// keys are dropped (the counter still counts them).
const maxRejectLogKeys = 1024

// maxAgentName bounds the agent name a log line and the limiter keep.
const maxAgentName = 64

// RejectInput counts n items of agent input (requests, messages or data
// points) refused or cut for reason, and logs a warning on log at most once
// per source, reason and agent per RejectLogInterval; the line carries how
// many were left unlogged since the last. agent is the instance UID when
// known, otherwise the sender's address. A nil log only counts.
func (m *Metrics) RejectInput(log *slog.Logger, source, reason, agent string, n int, detail string) {
	if n <= 0 {
		return
	}
	m.AgentInputRejected.WithLabelValues(source, reason).Add(float64(n))
	if len(agent) > maxAgentName {
		agent = agent[:maxAgentName]
	}
	unlogged, ok := m.rejectLog.allow(rejectKey{source, reason, agent})
	if !ok || log == nil {
		return
	}
	log.Warn("agent input over a limit", "source", source, "reason", reason, "agent", agent,
		"count", n, "detail", detail, "unlogged_since_last", unlogged)
}

type rejectKey struct{ source, reason, agent string }

type rejectEntry struct {
	at       time.Time // last line logged
	unlogged int       // events since then
}

// rejectLog decides which rejections are logged.
type rejectLog struct {
	mu      sync.Mutex
	now     func() time.Time // nil means time.Now
	entries map[rejectKey]rejectEntry
}

// allow reports whether k may be logged now, and how many events of k went
// unlogged since its last line.
func (l *rejectLog) allow(k rejectKey) (unlogged int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.now != nil {
		now = l.now()
	}
	if l.entries == nil {
		l.entries = make(map[rejectKey]rejectEntry)
	}
	e, found := l.entries[k]
	if found && now.Sub(e.at) < RejectLogInterval {
		e.unlogged++
		l.entries[k] = e
		return 0, false
	}
	if !found && len(l.entries) >= maxRejectLogKeys {
		for key, old := range l.entries {
			if now.Sub(old.at) >= RejectLogInterval {
				delete(l.entries, key)
			}
		}
		if len(l.entries) >= maxRejectLogKeys {
			return 0, false
		}
	}
	l.entries[k] = rejectEntry{at: now}
	return e.unlogged, true
}
