package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
	"github.com/phoenix/platform/test/pgtest"
)

// cluster is three `phoenix server` replicas on one PostgreSQL, two fleets
// reaching them through a balancer, and one small fleet pinned to each
// replica (it cannot reconnect elsewhere, so only the lease can mark it
// offline when its replica dies).
type cluster struct {
	t        *testing.T
	dsn      string
	replicas []*harness.Server
	fleet    simFleet // the deployed and stopped experiment's
	promo    simFleet // the completed and promoted experiment's
	pinned   []string // fleet name pinned to each replica
}

// simFleet is a simulated fleet and what selects it.
type simFleet struct {
	*fleetsim.Fleet
	name string
	size int
}

func (f simFleet) selector() string { return fleetsim.FleetLabel + "=" + f.name }

func startCluster(t *testing.T) *cluster {
	dsn := pgtest.Start(t)
	admin, enroll := "kill-admin-token-0123456789", "kill-enroll-token-0123456789"
	tokensFile := writeTokens(t, admin, enroll)
	c := &cluster{t: t, dsn: dsn}
	// Replicas share one public URL, as behind a Service: the configurations
	// they render (with own telemetry's endpoint) are then the same
	// whichever replica renders them.
	api, apiBackends := startBalancer(t)
	lb, opampBackends := startBalancer(t)
	var apis, opamps []string
	for i := range 3 {
		s := harness.StartServer(t, harness.ServerOptions{Store: dsn, TokensFile: tokensFile, AdminToken: admin, EnrollToken: enroll,
			ServerID: fmt.Sprintf("replica-%d", i),
			Args:     []string{"--presence-lease", lease.String(), "--public-url", "http://" + api}})
		c.replicas = append(c.replicas, s)
		for _, b := range []struct {
			url   string
			hosts *[]string
		}{{s.API, &apis}, {s.OpAMP, &opamps}} {
			u, err := url.Parse(b.url)
			require.NoError(t, err)
			*b.hosts = append(*b.hosts, u.Host)
		}
	}
	apiBackends(apis)
	opampBackends(opamps)
	balanced := func(name string, size int, telemetry time.Duration) simFleet {
		return simFleet{name: name, size: size, Fleet: startFleet(t, fleetsim.Options{Count: size, Server: c.replicas[0].API,
			OpAMP: "ws://" + lb + "/v1/opamp", EnrollToken: enroll, Fleet: name, Rate: 500, ApplyDelay: applyDelay,
			TelemetryInterval: telemetry})}
	}
	c.fleet = balanced(fleetName, fleetSize, 0)
	c.promo = balanced(promoName, promoSize, telemetryInterval)
	for i, s := range c.replicas {
		name := fmt.Sprintf("pinned-%d", i)
		c.pinned = append(c.pinned, name)
		f := startFleet(t, fleetsim.Options{Count: 3, Server: s.API, OpAMP: s.OpAMP, EnrollToken: enroll, Fleet: name, Rate: 500})
		require.NoError(t, f.WaitConnected(within(t, 30*time.Second), 3))
	}
	for _, f := range []simFleet{c.fleet, c.promo} {
		require.NoError(t, f.WaitConnected(within(t, 30*time.Second), f.size))
		// Connected is not yet stored: wait for the inventory.
		yes := true
		harness.Eventually(t, t.Context(), 30*time.Second, func() (bool, string) {
			online, err := c.replicas[0].Client().AllAgents(t.Context(), apiclient.ListAgentsOptions{Selector: f.selector(), Online: &yes})
			if err != nil {
				return false, err.Error()
			}
			return len(online) == f.size, fmt.Sprintf("%d of %d agents of %s online in the inventory", len(online), f.size, f.name)
		}, c.logs)
	}
	return c
}

func startFleet(t *testing.T, o fleetsim.Options) *fleetsim.Fleet {
	t.Helper()
	f, err := fleetsim.Start(t.Context(), o)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = f.Stop(ctx)
	})
	return f
}

func within(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func (c *cluster) logs() string {
	var b strings.Builder
	for i, s := range c.replicas {
		fmt.Fprintf(&b, "--- replica-%d\n%s", i, s.Log())
	}
	return b.String()
}

// agents lists the agents matching selector, through replica i.
func (c *cluster) agents(i int, selector string) []apitypes.AgentView {
	c.t.Helper()
	views, err := c.replicas[i].Client().AllAgents(c.t.Context(), apiclient.ListAgentsOptions{Selector: selector})
	require.NoError(c.t, err)
	return views
}

// waitAgents waits until every agent of fleet f holds cond, asking
// replica i, and returns them.
func (c *cluster) waitAgents(f simFleet, i int, timeout time.Duration, what string, cond func(apitypes.AgentView) string) map[string]apitypes.AgentView {
	c.t.Helper()
	var last map[string]apitypes.AgentView
	harness.Eventually(c.t, c.t.Context(), timeout, func() (bool, string) {
		views := c.agents(i, f.selector())
		last = map[string]apitypes.AgentView{}
		var bad []string
		for _, v := range views {
			last[v.InstanceUID] = v
			if why := cond(v); why != "" {
				bad = append(bad, v.Description.HostName+": "+why)
			}
		}
		if len(views) != f.size {
			return false, fmt.Sprintf("%s: %d agents, want %d", what, len(views), f.size)
		}
		return len(bad) == 0, fmt.Sprintf("%s: %d agent(s) not yet: %s", what, len(bad), strings.Join(bad[:min(len(bad), 5)], "; "))
	}, c.logs)
	return last
}

// runs says what is wrong with an agent that should run hash, APPLIED,
// online on a live replica ("" when nothing is).
func runs(hash, deadReplica string) func(apitypes.AgentView) string {
	return func(v apitypes.AgentView) string {
		switch {
		case !v.Online:
			return "offline"
		case v.ServerID == deadReplica:
			return "held by the killed " + deadReplica
		case v.RemoteConfig.Hash != hash || v.RemoteConfig.Status != apitypes.ConfigStatusApplied:
			return fmt.Sprintf("runs %.8s %s, want %.8s APPLIED", v.RemoteConfig.Hash, v.RemoteConfig.Status, hash)
		}
		return ""
	}
}

// checkFleetRuns checks the simulated agents of f themselves: each runs
// want[uid].
func (c *cluster) checkFleetRuns(f simFleet, want map[string]string) {
	c.t.Helper()
	for _, a := range f.Agents() {
		assert.Equal(c.t, want[a.InstanceUID], a.RunningHash, "%s runs", a.HostName)
		assert.Equal(c.t, "APPLIED", a.Status, a.HostName)
	}
}

// waitDeadReplicaReleased waits until no agent is online on the killed
// replica: the balanced fleet reconnected elsewhere, and its pinned fleet,
// which cannot, was marked offline when its lease ran out. It returns how
// long after the kill that took.
func (c *cluster) waitDeadReplicaReleased(survivor, killed int, killedAt time.Time) time.Duration {
	c.t.Helper()
	dead := fmt.Sprintf("replica-%d", killed)
	harness.Eventually(c.t, c.t.Context(), 4*lease, func() (bool, string) {
		var held []string
		for _, v := range c.agents(survivor, "") {
			if v.Online && v.ServerID == dead {
				held = append(held, v.Description.HostName)
			}
		}
		return len(held) == 0, fmt.Sprintf("%d agent(s) still online on %s: %v", len(held), dead, held)
	}, c.logs)
	took := time.Since(killedAt)
	pinned := c.agents(survivor, fleetsim.FleetLabel+"="+c.pinned[killed])
	require.Len(c.t, pinned, 3)
	for _, v := range pinned {
		assert.False(c.t, v.Online, "%s (pinned to the killed replica) is offline", v.Description.HostName)
	}
	return took
}

// expiredAgents sums phoenix_presence_agents_offline_total over the live
// replicas.
func (c *cluster) expiredAgents(killed ...int) float64 {
	total := 0.0
	for i, s := range c.replicas {
		if !slices.Contains(killed, i) {
			total += max(s.Metric("phoenix_presence_agents_offline_total"), 0)
		}
	}
	return total
}

// startBalancer is a TCP load balancer in front of the replicas' OpAMP or
// API listeners, as a Kubernetes Service is: each connection goes to the
// next replica that accepts it, and ends when either side ends, so an agent
// whose replica died reconnects to another. It returns its address, known
// before the replicas start, and the function that gives it the replicas'.
func startBalancer(t *testing.T) (addr string, setBackends func([]string)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var (
		mu       sync.Mutex
		backends []string
		next     int
		conns    = map[net.Conn]bool{}
		wg       sync.WaitGroup
	)
	track := func(c net.Conn, add bool) bool {
		mu.Lock()
		defer mu.Unlock()
		if add && conns == nil {
			return false
		}
		if add {
			conns[c] = true
		} else {
			delete(conns, c)
		}
		return true
	}
	dial := func() net.Conn {
		mu.Lock()
		n := len(backends)
		mu.Unlock()
		for range n {
			mu.Lock()
			addr := backends[next%len(backends)]
			next++
			mu.Unlock()
			if up, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				return up
			}
		}
		return nil
	}
	forward := func(down net.Conn) {
		defer down.Close()
		up := dial()
		if up == nil || !track(up, true) {
			return
		}
		defer func() { track(up, false); _ = up.Close() }()
		done := make(chan struct{}, 2)
		go func() { _, _ = io.Copy(up, down); done <- struct{}{} }()
		go func() { _, _ = io.Copy(down, up); done <- struct{}{} }()
		<-done
	}
	wg.Go(func() {
		for {
			down, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			wg.Go(func() { forward(down) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		conns = nil
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String(), func(bs []string) {
		mu.Lock()
		defer mu.Unlock()
		backends = bs
	}
}
