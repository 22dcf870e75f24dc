package wavegate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// criticalLookback is how far before a wave its agents' critical processes
// are looked for, the figure the gate compares with.
const criticalLookback = 10 * time.Minute

// Failure is an agent that cannot pass its gate: the wave fails.
type Failure string

func (g Failure) Error() string { return string(g) }

// Criteria are what an agent must show to pass.
type Criteria struct {
	// What names the configuration in messages ("the candidate").
	What string
	// MinCriticalRetention, when set, is the least share of its critical
	// processes before the wave an agent must keep; when nil, own
	// telemetry after the apply is enough.
	MinCriticalRetention *float64
}

// Resume assigns an agent's configuration again when the wave was
// interrupted before it was; it reports whether it sent it, and fails the
// gate with an error.
type Resume func() (bool, error)

// Check updates one agent's progress through the gate: APPLIED on the
// wave's configuration and healthy, then own telemetry from after the
// apply (with its critical processes kept, when the criteria ask). It
// reports whether anything changed and what the agent still waits for; a
// Failure when it cannot pass.
func Check(ctx context.Context, st store.Store, a *apitypes.RolloutAgent, crit Criteria, now time.Time, resume Resume) (bool, string, error) {
	ag, err := st.GetAgent(ctx, a.InstanceUID)
	if errors.Is(err, store.ErrNotFound) {
		a.Removed = true // nothing left to wait for
		return true, "", nil
	}
	if err != nil {
		return false, "", err
	}
	name := fmt.Sprintf("agent %s (%s)", a.InstanceUID, a.Host)
	if slices.Contains(ag.FailedConfigHashes, a.ConfigHash) && !ag.Retrying(a.ConfigHash) ||
		ag.RemoteConfig.Hash == a.ConfigHash && ag.RemoteConfig.Status == apitypes.ConfigStatusFailed && !ag.Retrying(a.ConfigHash) {
		return false, "", Failure(fmt.Sprintf("%s could not apply %s: %s", name, crit.What, ag.RemoteConfig.ErrorMessage))
	}
	onIt := ag.RemoteConfig.Hash == a.ConfigHash && ag.RemoteConfig.Status == apitypes.ConfigStatusApplied
	healthy := ag.Health != nil && ag.Health.Healthy
	if a.AppliedAt.IsZero() {
		if !onIt || !healthy {
			resent, err := resume()
			if err != nil {
				return false, "", Failure(err.Error())
			}
			return resent, "not applied yet", nil
		}
		a.AppliedAt, a.Healthy = now, true
		return true, "no own telemetry since applying yet", telemetry(ctx, st, a, crit)
	}
	switch {
	case ag.RemoteConfig.Hash != a.ConfigHash:
		return false, "", Failure(fmt.Sprintf("%s no longer runs %s (it reports %s %s)", name, crit.What, ShortHash(ag.RemoteConfig.Hash), ag.RemoteConfig.Status))
	case !onIt:
		return false, "applying " + crit.What + " again", nil // sent again: wait for its report
	case !healthy:
		msg := "no health reported"
		if ag.Health != nil {
			msg = strings.TrimSpace(ag.Health.Status + " " + ag.Health.LastError)
		}
		return false, "", Failure(fmt.Sprintf("%s went unhealthy on %s: %s", name, crit.What, msg))
	}
	was := *a
	if err := telemetry(ctx, st, a, crit); err != nil {
		return false, "", err
	}
	changed := a.Reporting != was.Reporting || a.Passed != was.Passed
	switch {
	case !a.Reporting:
		return changed, "no own telemetry since applying yet", nil
	case !a.Passed:
		return changed, "no critical-process count in its own telemetry yet", nil
	}
	return changed, "", nil
}

// telemetry looks for own telemetry from a whole minute after the apply
// was seen (earlier minutes may hold the previous collector's), and
// compares its critical processes with those before the wave.
func telemetry(ctx context.Context, st store.Store, a *apitypes.RolloutAgent, crit Criteria) error {
	from := a.AppliedAt.Truncate(time.Minute).Add(time.Minute)
	samples, err := st.QuerySamples(ctx, store.SampleQuery{InstanceUID: a.InstanceUID, From: from})
	if err != nil || len(samples) == 0 {
		return err
	}
	a.Reporting = true
	after, ok := latestCritical(samples)
	if ok {
		a.CriticalAfter = &after
	}
	if crit.MinCriticalRetention == nil {
		a.Passed = true // no retention criterion: reporting is enough
		return nil
	}
	if !ok {
		if a.CriticalBefore == nil {
			a.Passed = true // nothing to compare: the previous pipeline counted none
		}
		return nil
	}
	if minRetention := *crit.MinCriticalRetention; a.CriticalBefore != nil && *a.CriticalBefore > 0 {
		if retention := after / *a.CriticalBefore; retention < minRetention-1e-9 {
			return Failure(fmt.Sprintf("agent %s (%s) keeps %g of its %g critical processes (retention %.1f%%, %.1f%% required)",
				a.InstanceUID, a.Host, after, *a.CriticalBefore, 100*retention, 100*minRetention))
		}
	}
	a.Passed = true
	return nil
}

// CriticalBefore is, by instance UID, the critical processes in each
// agent's latest own telemetry before now; an agent that sent none lately
// has no entry. A wave's agents are read a page per store call.
func CriticalBefore(ctx context.Context, st store.Store, uids []string, now time.Time) (map[string]float64, error) {
	q := store.SampleQuery{Name: analysis.SeriesCriticalProcesses, From: now.Add(-criticalLookback), To: now.Add(time.Minute)}
	out := make(map[string]float64)
	for page := range slices.Chunk(uids, store.MaxBatchKeys) {
		got, err := st.QueryAgentsSamples(ctx, page, q)
		if err != nil {
			return nil, err
		}
		for uid, samples := range got {
			if v, ok := latestCritical(samples); ok {
				out[uid] = v
			}
		}
	}
	return out, nil
}

// latestCritical is the critical-process gauge of the latest minute that
// has one, the largest of its variants (a meter per pipeline).
func latestCritical(samples []apitypes.Sample) (float64, bool) {
	var at time.Time
	v, ok := 0.0, false
	for _, s := range samples {
		if s.Name != analysis.SeriesCriticalProcesses {
			continue
		}
		switch {
		case s.Minute.After(at):
			at, v, ok = s.Minute, s.Value, true
		case s.Minute.Equal(at):
			v = max(v, s.Value)
		}
	}
	return v, ok
}
