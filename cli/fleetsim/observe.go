package fleetsim

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Stats are the fleet's counts now.
func (f *Fleet) Stats() Stats {
	s := Stats{
		Agents:           f.o.Count,
		Enrolled:         int(f.enrolled.Load()),
		Reused:           int(f.reused.Load()),
		Started:          int(f.started.Load()),
		Connected:        int(f.connected.Load()),
		EverConnected:    int(f.everConnected.Load()),
		ConfigsReceived:  int(f.configs.Load()),
		Applying:         int(f.applying.Load()),
		Applied:          int(f.applied.Load()),
		Failed:           int(f.failedN.Load()),
		TelemetryExports: int(f.exports.Load()),
		Errors:           f.errors.snapshot(),
		ErrorExamples:    f.errors.examples(),
		Elapsed:          time.Since(f.begun),
		Ramped:           time.Duration(f.rampedAt.Load()),
		AllConnected:     time.Duration(f.allConnectedAt.Load()),
	}
	return s
}

// Waves are the configuration pushes the fleet has seen so far.
func (f *Fleet) Waves() []Wave {
	f.wavesMu.Lock()
	ws := slices.Clone(f.waves)
	f.wavesMu.Unlock()
	out := make([]Wave, len(ws))
	for i, w := range ws {
		out[i] = w.summary()
	}
	return out
}

// AgentStatus is one simulated agent as the fleet knows it.
type AgentStatus struct {
	Index       int    `json:"index"`
	InstanceUID string `json:"instance_uid"`
	HostName    string `json:"host_name"`
	Connected   bool   `json:"connected"`
	// ConfigHash is the hex hash of the latest configuration received and
	// Status where the agent stands with it: "", APPLYING, APPLIED, FAILED.
	ConfigHash string `json:"config_hash,omitempty"`
	Status     string `json:"status,omitempty"`
	// RunningHash is the configuration the collector runs.
	RunningHash string `json:"running_hash,omitempty"`
	// Telemetry reports that the server offered an own-telemetry
	// destination.
	Telemetry bool `json:"telemetry"`
	// CostMeters are the variants of the cost_meter processors the
	// collector runs, whose figures its own telemetry carries.
	CostMeters []string `json:"cost_meters,omitempty"`
}

// Agents lists the agents launched so far, by index.
func (f *Fleet) Agents() []AgentStatus {
	var out []AgentStatus
	for i := range f.agents {
		if a := f.agents[i].Load(); a != nil {
			out = append(out, a.status())
		}
	}
	return out
}

func (a *agent) status() AgentStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AgentStatus{
		Index: a.index, InstanceUID: a.id.InstanceUID, HostName: a.hostName(), Connected: a.connected,
		ConfigHash: hexHash(a.latestHash), Status: outcomeNames[a.latest], RunningHash: hexHash(a.runningHash),
		Telemetry: a.telemetry != nil, CostMeters: a.meters,
	}
}

var outcomeNames = [...]string{outcomeNone: "", outcomeApplying: "APPLYING", outcomeApplied: "APPLIED", outcomeFailed: "FAILED"}

// pollEvery is how often the Wait methods look.
const pollEvery = 50 * time.Millisecond

// waitFor polls cond until it holds, ctx ends (its error, with what was
// last seen) or the fleet fails.
func (f *Fleet) waitFor(ctx context.Context, cond func() (bool, string)) error {
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w; %s", context.Cause(ctx), seen)
		case <-f.failed:
			return f.Err()
		case <-tick.C:
		}
	}
}

// WaitConnected waits until n agents are connected at once.
func (f *Fleet) WaitConnected(ctx context.Context, n int) error {
	return f.waitFor(ctx, func() (bool, string) {
		c := int(f.connected.Load())
		return c >= n, fmt.Sprintf("%d of %d agents connected", c, n)
	})
}

// WaitApplied waits until n agents run the configuration hash (hex) and
// reported it APPLIED; with hash "", until n agents have applied the
// latest configuration they received, whatever it is.
func (f *Fleet) WaitApplied(ctx context.Context, hash string, n int) error {
	return f.waitFor(ctx, func() (bool, string) {
		k := 0
		for i := range f.agents {
			a := f.agents[i].Load()
			if a == nil {
				continue
			}
			a.mu.Lock()
			if a.latest == outcomeApplied && (hash == "" || hexHash(a.latestHash) == hash) {
				k++
			}
			a.mu.Unlock()
		}
		return k >= n, fmt.Sprintf("%d of %d agents applied", k, n)
	})
}

// Outcomes count agents by what they reported on the configurations they
// were expected to receive.
type Outcomes struct {
	Applied, Failed int
	// Pending counts agents yet to report APPLIED or FAILED on theirs
	// (including agents the fleet does not have).
	Pending int
}

// WaitOutcomes waits until every agent in want (instance UID → hex config
// hash, as an assignment's results give them) has reported APPLIED or
// FAILED on its configuration, and counts them.
func (f *Fleet) WaitOutcomes(ctx context.Context, want map[string]string) (Outcomes, error) {
	var out Outcomes
	err := f.waitFor(ctx, func() (bool, string) {
		out = Outcomes{Pending: len(want)}
		for i := range f.agents {
			a := f.agents[i].Load()
			if a == nil {
				continue
			}
			hash, ok := want[a.id.InstanceUID]
			if !ok {
				continue
			}
			a.mu.Lock()
			if hexHash(a.latestHash) == hash {
				switch a.latest {
				case outcomeApplied:
					out.Applied++
					out.Pending--
				case outcomeFailed:
					out.Failed++
					out.Pending--
				}
			}
			a.mu.Unlock()
		}
		return out.Pending == 0, fmt.Sprintf("%d applied, %d failed, %d pending", out.Applied, out.Failed, out.Pending)
	})
	return out, err
}
