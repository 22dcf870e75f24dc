package fleetbench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/phoenix/platform/cli/fleetsim"
	"github.com/phoenix/platform/test/testenv"
)

// BenchmarkPeer puts the same fleet on opamp-go's example server
// (FLEETBENCH_PEER), for the figures beside phoenix's: every agent
// connected, memory per agent and idle CPU. The example server listens on
// 0.0.0.0:4320 and :4321, which it cannot be told otherwise, so it runs with
// the simulated fleet in a network namespace of their own (unshare -rn)
// that has nothing but loopback.
func BenchmarkPeer(b *testing.B) {
	peer := os.Getenv("FLEETBENCH_PEER")
	if peer == "" {
		b.Skip("FLEETBENCH_PEER names no opamp-go example server binary")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		b.Skip("unshare (util-linux) is needed to keep the example server off the network")
	}
	for b.Loop() {
		runPeer(b, peer)
	}
}

func runPeer(b *testing.B, peer string) {
	n, idle := agents(b), idleWindow(b)
	dir := b.TempDir()
	const api = "http://127.0.0.1:4321" // only names the identities' issuer
	ids := filepath.Join(dir, "identities.jsonl")
	writePeerIdentities(b, ids, api, n)
	ramp := time.Duration(float64(n)/connectRate*float64(time.Second)) + 5*time.Second
	duration := ramp + 2*settle + idle + 30*time.Second
	script := strings.Join([]string{
		"ip link set lo up",
		`cd "$PEER_DIR" && "$PEER" --no-tls >peer.log 2>&1 & echo $! >"$PEER_DIR/peer.pid"`,
		"sleep 2",
		fmt.Sprintf(`exec "$PHOENIX" loadsim agents --count %d --identities "$IDS" --server %s --opamp ws://127.0.0.1:4320/v1/opamp --rate %d --duration %s --telemetry-interval 0 -o json >"$PEER_DIR/summary.json"`,
			n, api, connectRate, duration),
	}, "\n")
	cmd := exec.Command("unshare", "-rn", "sh", "-ec", script)
	cmd.Env = append(os.Environ(), "PEER="+peer, "PEER_DIR="+dir, "IDS="+ids, "PHOENIX="+testenv.Binary(b, "phoenix"))
	cmd.Stderr = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	var pid int
	waitUntil(b, b.Context(), "the example server started", 100*time.Millisecond, 30*time.Second, func() (bool, string) {
		raw, err := os.ReadFile(filepath.Join(dir, "peer.pid"))
		if err == nil {
			pid, err = strconv.Atoi(strings.TrimSpace(string(raw)))
		}
		return err == nil && pid > 0, fmt.Sprint(err)
	})
	time.Sleep(time.Second)
	base, err := readMemory(pid)
	if err != nil {
		b.Fatal(err)
	}
	// One descriptor per agent connection: all are there when the count is.
	files0 := openFiles(pid)
	took := waitUntil(b, b.Context(), "every agent connected", 200*time.Millisecond, waitLimit, func() (bool, string) {
		got := openFiles(pid) - files0
		return got >= n, fmt.Sprintf("%d connections", got)
	})
	b.ReportMetric(took.Seconds(), "online-s")
	time.Sleep(settle)
	memory(b, pid, base, n, "")
	cpu0, _ := readCPU(pid)
	time.Sleep(idle)
	cpu1, _ := readCPU(pid)
	b.ReportMetric((cpu1-cpu0).Seconds()*float64(time.Minute)/float64(idle), "idle-cpu-s/min")
}

// writePeerIdentities gives the fleet identities of its own: the example
// server enrolls no one and accepts any instance UID.
func writePeerIdentities(b *testing.B, path, server string, n int) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	enc := json.NewEncoder(f)
	for i := range n {
		if err := enc.Encode(fleetsim.Identity{Index: i, InstanceUID: uuid.NewString(), Token: "peer", Server: server}); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
