package controlplane

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/harness"
)

// TestPollingAgentsTakeTheOfferedHeartbeat: opamp-go's HTTP client, which
// the supervisor uses, polls every 30 s until the server offers a
// heartbeat; offered 1 s, it polls every second and a configuration reaches
// it within seconds.
func TestPollingAgentsTakeTheOfferedHeartbeat(t *testing.T) {
	srv := harness.StartServer(t, harness.ServerOptions{Args: []string{"--http-heartbeat", "1s"}})
	const n = 3
	fleet := startFleet(t, fleetsim.Options{Count: n, Server: srv.API, OpAMP: srv.OpAMP, EnrollToken: srv.EnrollToken(),
		Transport: fleetsim.HTTP, Heartbeat: 30 * time.Second, Fleet: "polling", Rate: 100})
	ready, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	require.NoError(t, fleet.WaitConnected(ready, n))
	// The first answers carry the offer (the second poll at the latest
	// comes at the old interval): wait for a poll at the new one.
	time.Sleep(3 * time.Second)

	_, err := srv.Client().AssignMany(t.Context(), apitypes.BulkAssignRequest{Selector: fleetsim.FleetLabel + "=polling",
		AssignRequest: apitypes.AssignRequest{Pipeline: "baseline", Parameters: killParams}})
	require.NoError(t, err)
	// Polling every 30 s, a third of the agents would wait 20 s or more.
	applied, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, fleet.WaitApplied(applied, "", n),
		"every polling agent applies its configuration within a few of the offered heartbeats")
}
