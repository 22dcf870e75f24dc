// Package harness runs the real Phoenix processes for end-to-end tests: the
// phoenix server, OpAMP supervisors managing phoenix-collectors, on loopback,
// each stopped when its test ends.
package harness // import "github.com/phoenix/platform/test/harness"

import (
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

	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/test/testenv"
)

// ServerOptions configure a phoenix server process.
type ServerOptions struct {
	// DataDir is reused across restarts; default: a new temp dir.
	DataDir string
	// Store is a postgres:// URL; default: the embedded store.
	Store string
	// TokensFile replaces the generated default tokens; AdminToken and
	// EnrollToken are then the tokens the harness uses.
	TokensFile  string
	AdminToken  string
	EnrollToken string
	// ServerID names the replica.
	ServerID string
	// Args are extra flags.
	Args []string
}

// Server is a running `phoenix server`.
type Server struct {
	t                  testing.TB
	opts               ServerOptions
	cmd                *exec.Cmd
	logPath            string
	OpAMP              string // ws:// URL
	API                string // http:// base URL
	opampPort, apiPort int
}

// StartServer starts `bin/phoenix server` on free loopback ports and waits
// until /readyz answers.
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.ServerID == "" {
		opts.ServerID = "test-server"
	}
	s := &Server{t: t, opts: opts}
	var err error
	if s.opampPort, err = localrun.FreePort(); err != nil {
		t.Fatal(err)
	}
	if s.apiPort, err = localrun.FreePort(); err != nil {
		t.Fatal(err)
	}
	s.OpAMP = fmt.Sprintf("ws://127.0.0.1:%d/v1/opamp", s.opampPort)
	s.API = fmt.Sprintf("http://127.0.0.1:%d", s.apiPort)
	s.start()
	t.Cleanup(func() { s.Stop() })
	return s
}

func (s *Server) start() {
	s.t.Helper()
	args := []string{"server", "--data-dir", s.opts.DataDir, "--server-id", s.opts.ServerID,
		"--opamp-listen", fmt.Sprintf("127.0.0.1:%d", s.opampPort),
		"--api-listen", fmt.Sprintf("127.0.0.1:%d", s.apiPort), "--log-level", "debug"}
	if s.opts.Store != "" {
		args = append(args, "--store", s.opts.Store)
	}
	if s.opts.TokensFile != "" {
		args = append(args, "--tokens-file", s.opts.TokensFile)
	}
	args = append(args, s.opts.Args...)
	s.logPath = filepath.Join(s.opts.DataDir, fmt.Sprintf("server-%d.log", time.Now().UnixNano()))
	s.cmd = startLogged(s.t, testenv.Binary(s.t, "phoenix"), args, s.logPath, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		resp, err := http.Get(s.API + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("phoenix server not ready: %v\n%s", err, s.Log())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Log returns everything the server has logged (all its runs).
func (s *Server) Log() string {
	var b strings.Builder
	matches, _ := filepath.Glob(filepath.Join(s.opts.DataDir, "server-*.log"))
	for _, m := range matches {
		raw, _ := os.ReadFile(m)
		b.Write(raw)
	}
	return b.String()
}

// AdminToken returns the admin token: the configured one, or the generated.
func (s *Server) AdminToken() string {
	if s.opts.AdminToken != "" {
		return s.opts.AdminToken
	}
	return s.token("admin.token")
}

// EnrollToken returns the enrollment token: the configured one, or the
// generated.
func (s *Server) EnrollToken() string {
	if s.opts.EnrollToken != "" {
		return s.opts.EnrollToken
	}
	return s.token("enroll.token")
}

// Enroll gives a new agent identity, as `phoenix agent enroll` does.
func (s *Server) Enroll(ctx context.Context) apitypes.AgentCredential {
	s.t.Helper()
	c, err := apiclient.New(s.API, s.EnrollToken()).Enroll(ctx, apitypes.EnrollRequest{HostName: "test"})
	if err != nil {
		s.t.Fatalf("enrolling an agent: %v", err)
	}
	return c
}

func (s *Server) token(file string) string {
	raw, err := os.ReadFile(filepath.Join(s.opts.DataDir, file))
	if err != nil {
		s.t.Fatalf("reading %s: %v", file, err)
	}
	return strings.TrimSpace(string(raw))
}

// Client returns an API client with the admin token.
func (s *Server) Client() *apiclient.Client { return apiclient.New(s.API, s.AdminToken()) }

// Metric returns the sum of a Prometheus metric family's samples on
// /metrics (lines starting with name), or -1 when absent.
func (s *Server) Metric(name string) float64 {
	resp, err := http.Get(s.API + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	total, found := 0.0, false
	for _, line := range strings.Split(string(raw), "\n") {
		if !strings.HasPrefix(line, name) || (len(line) > len(name) && line[len(name)] != '{' && line[len(name)] != ' ') {
			continue
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			total, found = total+v, true
		}
	}
	if !found {
		return -1
	}
	return total
}

// Pid is the server process's ID, for reading its resource use.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Stop terminates the server gracefully (SIGTERM).
func (s *Server) Stop() { stop(s.cmd, syscall.SIGTERM) }

// Kill terminates the server abruptly (SIGKILL), like a crash.
func (s *Server) Kill() { stop(s.cmd, syscall.SIGKILL) }

// Restart starts the server again on the same ports and data directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}

// startLogged starts a command writing its output to logPath; it dies with
// the test process.
func startLogged(t testing.TB, bin string, args []string, logPath string, env []string) *exec.Cmd {
	t.Helper()
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
	go func() { _ = cmd.Wait(); _ = f.Close() }()
	return cmd
}

// stop signals a command's process group and waits up to 20s for it to go.
func stop(cmd *exec.Cmd, sig syscall.Signal) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(cmd.Process.Pid, 0) != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
