package opamp

import (
	"testing"
	"time"

	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

const applyTimeoutText = "Config apply timeout exceeded"

var (
	statusApplied  = protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLIED
	statusApplying = protobufs.RemoteConfigStatuses_RemoteConfigStatuses_APPLYING
	statusFailed   = protobufs.RemoteConfigStatuses_RemoteConfigStatuses_FAILED
)

// A slow start is retried with growing delays, each re-send due only when its
// delay has passed, and after the last retry the hash counts as failed.
func TestApplyTimeoutIsRetriedBoundedWithBackoff(t *testing.T) {
	old, slow := store.HashConfig([]byte("old")), store.HashConfig([]byte("slow"))
	asg := &apitypes.Assignment{ConfigHash: slow}
	a := apitypes.Agent{}
	clock := now
	apply(&a, status(old, statusApplied, ""), clock)

	for attempt := 1; attempt <= len(applyRetryDelays); attempt++ {
		apply(&a, status(slow, statusApplying, ""), clock)
		clock = clock.Add(10 * time.Second)
		apply(&a, status(slow, statusFailed, applyTimeoutText), clock)
		require.NotNil(t, a.ApplyRetry, "attempt %d", attempt)
		assert.Equal(t, attempt, a.ApplyRetry.Attempts)
		assert.Equal(t, len(applyRetryDelays), a.ApplyRetry.Limit)
		assert.Equal(t, clock.Add(applyRetryDelays[attempt-1]), a.ApplyRetry.NextAt)
		assert.NotContains(t, a.FailedConfigHashes, slow, "a slow start is not a bad configuration")

		// The supervisor rolls back to the old configuration.
		apply(&a, status(old, statusApplied, ""), clock.Add(100*time.Millisecond))
		assert.False(t, needsConfig(a, asg, a.ApplyRetry.NextAt.Add(-time.Second)), "not before the delay")
		clock = a.ApplyRetry.NextAt
		assert.True(t, needsConfig(a, asg, clock), "due once the delay has passed")
	}
	apply(&a, status(slow, statusApplying, ""), clock)
	apply(&a, status(slow, statusFailed, applyTimeoutText), clock.Add(10*time.Second))
	assert.Nil(t, a.ApplyRetry, "retries are bounded")
	assert.Contains(t, a.FailedConfigHashes, slow)
	assert.False(t, needsConfig(a, asg, clock.Add(time.Hour)), "never re-sent after the last retry")
}

// Any failure other than the apply timeout is the configuration's own: it
// fails at once and is never re-sent.
func TestInvalidConfigurationIsNeverRetried(t *testing.T) {
	bad := store.HashConfig([]byte("bad"))
	var a apitypes.Agent
	apply(&a, status(bad, statusFailed, "'processors' has invalid keys: nosuch"), now)
	assert.Nil(t, a.ApplyRetry)
	assert.Equal(t, []string{bad}, a.FailedConfigHashes)
	assert.False(t, needsConfig(a, &apitypes.Assignment{ConfigHash: bad}, now.Add(time.Hour)))
}

// A reconnecting agent repeats its last status: the repetition is not
// another attempt.
func TestRepeatedTimeoutReportIsNotAnotherAttempt(t *testing.T) {
	slow := store.HashConfig([]byte("slow"))
	var a apitypes.Agent
	apply(&a, status(slow, statusFailed, applyTimeoutText), now)
	apply(&a, status(slow, statusFailed, applyTimeoutText), now.Add(time.Second))
	require.NotNil(t, a.ApplyRetry)
	assert.Equal(t, 1, a.ApplyRetry.Attempts)
	assert.Equal(t, now.Add(applyRetryDelays[0]), a.ApplyRetry.NextAt)
}

// Without rollback the agent keeps reporting FAILED for the hash: the retry
// is still sent when due, and not again while it is being applied.
func TestDueRetryWithoutRollback(t *testing.T) {
	slow := store.HashConfig([]byte("slow"))
	asg := &apitypes.Assignment{ConfigHash: slow}
	var a apitypes.Agent
	apply(&a, status(slow, statusFailed, applyTimeoutText), now)
	due := a.ApplyRetry.NextAt
	assert.True(t, needsConfig(a, asg, due))
	apply(&a, status(slow, statusApplying, ""), due)
	assert.False(t, needsConfig(a, asg, due.Add(time.Second)), "already applying the re-sent copy")
	apply(&a, status(slow, statusApplied, ""), due.Add(10*time.Second))
	assert.Nil(t, a.ApplyRetry, "an applied hash needs no retry")
	assert.False(t, needsConfig(a, asg, due.Add(time.Minute)))
}

func TestIsApplyTimeout(t *testing.T) {
	assert.True(t, isApplyTimeout(applyTimeoutText))
	assert.True(t, isApplyTimeout("config apply timeout exceeded after 10s"))
	assert.False(t, isApplyTimeout("collector exited: invalid configuration"))
	assert.False(t, isApplyTimeout(""))
}
