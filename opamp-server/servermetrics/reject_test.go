package servermetrics

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
)

func TestRejectInputCountsEveryEventAndLogsOncePerMinute(t *testing.T) {
	t.Parallel()
	m := New()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.rejectLog.now = func() time.Time { return now }
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	lines := func() int { return strings.Count(buf.String(), "agent input over a limit") }

	m.RejectInput(log, SourceOpAMP, ReasonConfigTooLarge, "agent-1", 1, "effective config is 64 MiB")
	m.RejectInput(log, SourceOpAMP, ReasonConfigTooLarge, "agent-1", 1, "again")
	m.RejectInput(log, SourceOpAMP, ReasonConfigTooLarge, "agent-2", 1, "another agent")
	m.RejectInput(log, SourceOpAMP, ReasonTooManyAttributes, "agent-1", 1, "another reason")
	m.RejectInput(log, SourceOwnTelemetry, ReasonNonFinite, "agent-1", 3, "three points")
	m.RejectInput(log, SourceOwnTelemetry, ReasonNonFinite, "agent-1", 0, "nothing")
	assert.Equal(t, 4, lines(), buf.String())
	assert.InDelta(t, 3, testutil.ToFloat64(m.AgentInputRejected.WithLabelValues(SourceOpAMP, ReasonConfigTooLarge)), 0)
	assert.InDelta(t, 3, testutil.ToFloat64(m.AgentInputRejected.WithLabelValues(SourceOwnTelemetry, ReasonNonFinite)), 0)

	now = now.Add(RejectLogInterval)
	buf.Reset()
	m.RejectInput(log, SourceOpAMP, ReasonConfigTooLarge, "agent-1", 1, "a minute later")
	assert.Equal(t, 1, lines())
	assert.Contains(t, buf.String(), "unlogged_since_last=1")
	assert.Contains(t, buf.String(), "source=opamp reason=config_too_large agent=agent-1")
}

func TestRejectInputBoundsWhatItRemembers(t *testing.T) {
	t.Parallel()
	m := New()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m.rejectLog.now = func() time.Time { return now }
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))

	// A sender inventing agent names cannot grow the limiter, or the log,
	// without end.
	for i := range 3 * maxRejectLogKeys {
		m.RejectInput(log, SourceOwnTelemetry, ReasonInvalidSeries, fmt.Sprintf("%d-%s", i, strings.Repeat("x", 1000)), 1, "")
	}
	assert.Len(t, m.rejectLog.entries, maxRejectLogKeys)
	assert.Equal(t, maxRejectLogKeys, strings.Count(buf.String(), "agent input over a limit"))
	assert.NotContains(t, buf.String(), strings.Repeat("x", maxAgentName+1), "agent names are shortened")
	assert.InDelta(t, 3*maxRejectLogKeys, testutil.ToFloat64(m.AgentInputRejected.WithLabelValues(SourceOwnTelemetry, ReasonInvalidSeries)), 0)

	// Old entries make room again.
	now = now.Add(RejectLogInterval)
	m.RejectInput(log, SourceOwnTelemetry, ReasonInvalidSeries, "new", 1, "")
	assert.Len(t, m.rejectLog.entries, 1)
}

func TestRejectInputWithoutLogOnlyCounts(t *testing.T) {
	t.Parallel()
	m := New()
	m.RejectInput(nil, SourceOpAMP, ReasonBodyTooLarge, "127.0.0.1", 1, "")
	assert.InDelta(t, 1, testutil.ToFloat64(m.AgentInputRejected.WithLabelValues(SourceOpAMP, ReasonBodyTooLarge)), 0)
}
