package opamp // import "github.com/phoenix/platform/opamp-server/opamp"

import (
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// applyRetryDelays are the waits before each re-send of a configuration whose
// only failure was the supervisor's apply timeout; their count bounds the
// retries. Each is at least ResendAfter's default, so the re-send is never
// mistaken for a duplicate, and they grow so a host that stays busy is not
// restarted every few seconds.
var applyRetryDelays = []time.Duration{15 * time.Second, 30 * time.Second, 60 * time.Second}

// isApplyTimeout reports whether a FAILED status means only that the
// collector was not healthy when the supervisor's config_apply_timeout fired
// ("Config apply timeout exceeded" at v0.158.0). Any other failure is the
// configuration's own and is never retried.
func isApplyTimeout(errorMessage string) bool {
	return strings.Contains(strings.ToLower(errorMessage), "apply timeout")
}

// rememberOutcome keeps the hashes an agent failed to apply, so the server
// never pushes them again (which would loop bad config → rollback forever),
// plans a bounded retry when the only failure was the apply timeout, and
// forgets both once the agent reports the hash applied. changed tells a new
// report from one repeated (a reconnecting agent repeats its last status), so
// a repetition never counts as another attempt.
func rememberOutcome(a *apitypes.Agent, st apitypes.RemoteConfigStatus, changed bool, now time.Time) {
	if st.Hash == "" {
		return
	}
	switch st.Status {
	case apitypes.ConfigStatusFailed:
		if isApplyTimeout(st.ErrorMessage) && !slices.Contains(a.FailedConfigHashes, st.Hash) {
			if !changed && a.Retrying(st.Hash) {
				return
			}
			attempts := 1
			if a.Retrying(st.Hash) {
				attempts = a.ApplyRetry.Attempts + 1
			}
			if attempts <= len(applyRetryDelays) {
				a.ApplyRetry = &apitypes.ApplyRetry{Hash: st.Hash, Attempts: attempts, Limit: len(applyRetryDelays),
					NextAt: now.Add(applyRetryDelays[attempts-1])}
				return
			}
		}
		if a.Retrying(st.Hash) {
			a.ApplyRetry = nil
		}
		if !slices.Contains(a.FailedConfigHashes, st.Hash) {
			a.FailedConfigHashes = append(a.FailedConfigHashes, st.Hash)
			if n := len(a.FailedConfigHashes); n > maxFailedHashes {
				a.FailedConfigHashes = a.FailedConfigHashes[n-maxFailedHashes:]
			}
		}
	case apitypes.ConfigStatusApplied:
		a.FailedConfigHashes = slices.DeleteFunc(a.FailedConfigHashes, func(h string) bool { return h == st.Hash })
		if a.Retrying(st.Hash) {
			a.ApplyRetry = nil
		}
	}
}

// needsConfig decides whether asg must be sent to the agent now: it is not
// what the agent last reported about (unless a retry of it is due), and the
// agent has not failed it for good.
func needsConfig(a apitypes.Agent, asg *apitypes.Assignment, now time.Time) bool {
	if asg == nil || asg.ConfigHash == "" || slices.Contains(a.FailedConfigHashes, asg.ConfigHash) {
		return false
	}
	if a.Retrying(asg.ConfigHash) {
		return !now.Before(a.ApplyRetry.NextAt) && a.AwaitingRetry(asg.ConfigHash)
	}
	return a.RemoteConfig.Hash != asg.ConfigHash
}
