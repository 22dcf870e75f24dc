package harness // import "github.com/phoenix/platform/test/harness"

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/phoenix/platform/cli/agentidentity"
	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/testenv"
)

// AgentOptions configure a supervised collector.
type AgentOptions struct {
	// Name labels the agent (phoenix.test.agent) so tests can find it.
	Name string
	// HTTP makes the supervisor poll over plain HTTP instead of WebSocket.
	HTTP bool
	// Labels are extra non-identifying attributes.
	Labels map[string]string
	// Token replaces the agent's own credential (an agent the server is
	// expected to refuse). Without it the agent enrolls on its first start,
	// as `phoenix agent enroll` does, and keeps its identity across
	// restarts.
	Token string
	// NoWait returns without waiting for registration (an agent the server
	// is expected to refuse).
	NoWait bool
}

// Agent is a running opampsupervisor managing a phoenix-collector.
type Agent struct {
	t          testing.TB
	srv        *Server
	opts       AgentOptions
	dir        string
	sup        *localrun.Supervisor
	HealthPort int
	UID        string
}

// StartAgent starts bin/opampsupervisor against srv and waits until the agent
// has registered. The agent's collector gets its own health_check port
// through the phoenix.param label mechanism, and its own internal telemetry
// port until a configuration sets one, so several agents share this host.
// Agents start one after the other: the supervisor's bootstrap run of the
// collector always binds localhost:8888.
func StartAgent(t testing.TB, srv *Server, opts AgentOptions) *Agent {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "agent"
	}
	port, err := localrun.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{t: t, srv: srv, opts: opts, dir: t.TempDir(), HealthPort: port}
	a.start()
	t.Cleanup(a.Stop)
	if !opts.NoWait {
		a.WaitRegistered(context.Background(), srv.Client())
	}
	return a
}

func (a *Agent) start() {
	a.t.Helper()
	endpoint := a.srv.OpAMP
	if a.opts.HTTP {
		endpoint = strings.Replace(endpoint, "ws://", "http://", 1)
	}
	identityDir := ""
	if a.opts.Token == "" {
		identityDir = filepath.Join(a.dir, "identity")
		id, _, err := agentidentity.Ensure(context.Background(), agentidentity.EnrollOptions{
			Server: a.srv.API, EnrollToken: a.srv.EnrollToken(), Dir: identityDir, HostName: a.opts.Name,
		})
		if err != nil {
			a.t.Fatal(err)
		}
		a.UID = id.InstanceUID
	}
	labels := map[string]string{
		"phoenix.test.agent":                  a.opts.Name,
		"phoenix.param.health_check_endpoint": fmt.Sprintf("127.0.0.1:%d", a.HealthPort),
	}
	for k, v := range a.opts.Labels {
		labels[k] = v
	}
	promPort, err := localrun.FreePort()
	if err != nil {
		a.t.Fatal(err)
	}
	// Storage persists across restarts.
	sup, err := localrun.StartSupervisor(localrun.SupervisorOptions{
		Binary: testenv.Binary(a.t, "opampsupervisor"), Collector: testenv.Binary(a.t, "phoenix-collector"),
		Server: endpoint, IdentityDir: identityDir, Token: a.opts.Token, Dir: a.dir, Labels: labels, TelemetryPort: promPort, LogLevel: "debug",
	})
	if err != nil {
		a.t.Fatal(err)
	}
	a.sup = sup
}

// Token is the agent's own credential ("" for an agent given a Token).
func (a *Agent) Token() string {
	if a.opts.Token != "" {
		return ""
	}
	id, err := agentidentity.Read(filepath.Join(a.dir, "identity"))
	if err != nil {
		a.t.Fatal(err)
	}
	return id.Token
}

// Log returns the supervisor's output and the collector's log.
func (a *Agent) Log() string { return a.sup.Log() }

// Stop terminates the supervisor and its collector.
func (a *Agent) Stop() { a.sup.Stop(20 * time.Second) }

// Restart starts the supervisor again with the same storage.
func (a *Agent) Restart() {
	a.Stop()
	a.start()
}

// WaitRegistered waits until the server lists this agent, records its UID
// and returns its view.
func (a *Agent) WaitRegistered(ctx context.Context, c *apiclient.Client) apitypes.AgentView {
	a.t.Helper()
	var found apitypes.AgentView
	Eventually(a.t, ctx, 60*time.Second, func() (bool, string) {
		agents, err := c.AllAgents(ctx, apiclient.ListAgentsOptions{Selector: "phoenix.test.agent=" + a.opts.Name})
		if err != nil {
			return false, err.Error()
		}
		if len(agents) != 1 || !agents[0].Online {
			return false, fmt.Sprintf("%d agents named %s", len(agents), a.opts.Name)
		}
		found = agents[0]
		return true, ""
	}, a.Log)
	a.UID = found.InstanceUID
	return found
}

// WaitFor polls the agent's view until cond holds.
func (a *Agent) WaitFor(ctx context.Context, c *apiclient.Client, timeout time.Duration, what string, cond func(apitypes.AgentView) bool) apitypes.AgentView {
	a.t.Helper()
	var last apitypes.AgentView
	Eventually(a.t, ctx, timeout, func() (bool, string) {
		v, err := c.GetAgent(ctx, a.UID)
		if err != nil {
			return false, err.Error()
		}
		last = v
		return cond(v), fmt.Sprintf("%s: remote_config=%+v drift=%+v online=%t\neffective config:\n%s", what, v.RemoteConfig, v.Drift, v.Online, v.EffectiveConfig)
	}, a.Log)
	return last
}

// Eventually polls cond every 250ms until it holds, failing the test with the
// last reason and the given log after timeout.
func Eventually(t testing.TB, ctx context.Context, timeout time.Duration, cond func() (bool, string), log func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var why string
	for {
		var ok bool
		if ok, why = cond(); ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %s: %s\n%s", timeout, why, log())
		case <-time.After(250 * time.Millisecond):
		}
	}
}
