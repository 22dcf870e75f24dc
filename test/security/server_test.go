package security_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/open-telemetry/opamp-go/protobufs"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/testenv"
)

// liveServer is a `phoenix server` process whose memory the test reads.
type liveServer struct {
	cmd     *exec.Cmd
	logPath string
	dataDir string
	opamp   string // http://…/v1/opamp
	api     string // http://…
}

func startLiveServer(t *testing.T) *liveServer {
	t.Helper()
	opampPort, err := localrun.FreePort()
	require.NoError(t, err)
	apiPort, err := localrun.FreePort()
	require.NoError(t, err)
	s := &liveServer{dataDir: t.TempDir(),
		opamp: fmt.Sprintf("http://127.0.0.1:%d/v1/opamp", opampPort),
		api:   fmt.Sprintf("http://127.0.0.1:%d", apiPort)}
	s.logPath = filepath.Join(s.dataDir, "server.log")
	logFile, err := os.Create(s.logPath)
	require.NoError(t, err)
	s.cmd = exec.Command(testenv.Binary(t, "phoenix"), "server", "--data-dir", s.dataDir, "--server-id", "limits",
		"--opamp-listen", fmt.Sprintf("127.0.0.1:%d", opampPort), "--api-listen", fmt.Sprintf("127.0.0.1:%d", apiPort))
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	require.NoError(t, s.cmd.Start())
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); _ = logFile.Close(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			raw, _ := os.ReadFile(s.logPath)
			t.Logf("server log:\n%s", tail(string(raw), 40))
		}
	})
	require.Eventually(t, func() bool { return s.ready() }, 30*time.Second, 100*time.Millisecond, "phoenix server ready")
	return s
}

func tail(s string, lines int) string {
	all := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(all[max(len(all)-lines, 0):], "\n")
}

func (s *liveServer) ready() bool {
	resp, err := http.Get(s.api + "/readyz")
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *liveServer) token(t *testing.T, file string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.dataDir, file))
	require.NoError(t, err)
	return strings.TrimSpace(string(raw))
}

// peakMemory is the server's peak resident memory (VmHWM), in bytes.
func (s *liveServer) peakMemory(t *testing.T) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/<pid>/status")
	return 0
}

// rejected reads phoenix_agent_input_rejected_total for source and reason.
func (s *liveServer) rejected(t *testing.T, source, reason string) float64 {
	t.Helper()
	return s.counter(t, "phoenix_agent_input_rejected_total", `source="`+source+`"`, `reason="`+reason+`"`)
}

// refused reads phoenix_agent_auth_refused_total for source and reason.
func (s *liveServer) refused(t *testing.T, source, reason string) float64 {
	t.Helper()
	return s.counter(t, "phoenix_agent_auth_refused_total", `source="`+source+`"`, `reason="`+reason+`"`)
}

// agentStored reports whether the inventory holds uid.
func (s *liveServer) agentStored(t *testing.T, uid uuid.UUID) bool {
	t.Helper()
	code, _ := s.apiGet(t, apitypes.Prefix+"/agents/"+uid.String())
	require.Contains(t, []int{http.StatusOK, http.StatusNotFound}, code)
	return code == http.StatusOK
}

func (s *liveServer) apiGet(t *testing.T, path string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.api+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.token(t, "admin.token"))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, raw
}

// enrolled is an agent identity the server issued.
type enrolled struct {
	uid   uuid.UUID
	token string
}

// enroll gets a new agent identity with the server's enrollment token.
func (s *liveServer) enroll(t *testing.T) enrolled {
	t.Helper()
	c, err := apiclient.New(s.api, s.token(t, "enroll.token")).Enroll(t.Context(), apitypes.EnrollRequest{HostName: "security-test"})
	require.NoError(t, err)
	return enrolled{uid: uuid.MustParse(c.InstanceUID), token: c.Token}
}

// counter reads one sample of a counter on /metrics: the line of family
// name with every label pair given ("source=\"opamp\""); 0 when absent (the
// server starts known pairs at zero).
func (s *liveServer) counter(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(s.api + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		all := true
		for _, l := range labels {
			all = all && strings.Contains(line, l)
		}
		if all {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			require.NoError(t, err)
			return v
		}
	}
	return 0
}

// postOpAMP sends body as a plain-HTTP OpAMP poll with token. It returns
// the status, the answer on 200, and the error of a connection the server
// closed before the client finished sending (a refusal too).
func (s *liveServer) postOpAMP(t *testing.T, token string, body io.Reader, gzipped bool) (int, *protobufs.ServerToAgent, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opamp, body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Authorization", "Bearer "+token)
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		require.NoError(t, ctx.Err(), "the server must answer, not keep reading")
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, nil
	}
	var out protobufs.ServerToAgent
	require.NoError(t, proto.Unmarshal(raw, &out))
	return resp.StatusCode, &out, nil
}

// gzipStream compresses src as it is read.
