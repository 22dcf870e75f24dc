package localrun // import "github.com/phoenix/platform/cli/localrun"

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// ApplyTimeout is how long the supervisor gives a collector to become
// healthy on a new configuration before reporting FAILED. APPLIED is only
// reported when it expires, so shorter is faster, but a collector starting on
// a busy host (hundreds of processes starting at once) needs seconds, and a
// false FAILED is never corrected.
const ApplyTimeout = 10 * time.Second

// BootstrapTimeout is how long the supervisor waits for its first run of
// the collector (which reports the collector's description) before giving
// up and exiting. Its default, 3 s, is too short on a busy host: the
// collector's start alone can take longer while load runs beside it.
const BootstrapTimeout = 30 * time.Second

// SupervisorOptions configure an OpAMP supervisor managing a collector.
type SupervisorOptions struct {
	// Binary is opampsupervisor; Collector is phoenix-collector.
	Binary, Collector string
	// Server is the OpAMP URL: ws://… (WebSocket) or http://… (polling).
	Server string
	// IdentityDir holds the agent's identity as `phoenix agent enroll`
	// writes it (cli/agentidentity): the supervisor pins the instance UID
	// and reads the token from it with ${file:...}, as deployments do, and
	// gives the token to the collector in apitypes.AgentTokenEnv.
	IdentityDir string
	// Token, without IdentityDir, is sent as is (a server without
	// authentication ignores it; a test sends a token the server refuses).
	Token string
	// Dir holds the supervisor's configuration, storage and log.
	Dir string
	// Labels are the agent's non-identifying attributes.
	Labels map[string]string
	// TelemetryPort moves the collector's internal metrics off the default
	// localhost:8888 until a remote configuration sets its own readers, so
	// several agents can share a host. 0 leaves the default.
	TelemetryPort int
	// LogLevel is the supervisor's log level (default info).
	LogLevel string
}

// Supervisor is a running opampsupervisor.
type Supervisor struct {
	cmd     *exec.Cmd
	done    chan struct{}
	LogPath string
	// StorageDir holds the supervisor's state, including agent.log, the
	// collector's own log.
	StorageDir string
}

// StartSupervisor writes the supervisor configuration Phoenix deploys with
// (remote config accepted and reported, rollback on, ApplyTimeout) and
// starts the supervisor. It dies with the calling process.
func StartSupervisor(opts SupervisorOptions) (*Supervisor, error) {
	if opts.Binary == "" || opts.Collector == "" || opts.Server == "" || opts.Dir == "" {
		return nil, errors.New("localrun: Binary, Collector, Server and Dir are required")
	}
	for _, b := range []string{opts.Binary, opts.Collector} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%w (run `make build`)", err)
		}
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, err
	}
	s := &Supervisor{done: make(chan struct{}), LogPath: filepath.Join(opts.Dir, "supervisor.log"),
		StorageDir: filepath.Join(opts.Dir, "storage")}
	if opts.IdentityDir != "" {
		// One storage per identity: the supervisor takes instance_id only
		// when it creates its state, and would otherwise announce the old
		// UID with a new credential after the host enrolled again.
		uid, err := os.ReadFile(filepath.Join(opts.IdentityDir, apitypes.AgentInstanceIDFile))
		if err != nil {
			return nil, fmt.Errorf("reading the agent identity: %w", err)
		}
		s.StorageDir = filepath.Join(opts.Dir, "storage", strings.TrimSpace(string(uid)))
	}
	agent := map[string]any{
		"executable":                      opts.Collector,
		"collector_crash_log_snippet_kib": 2,
		"automatic_config_rollback":       true,
		"config_apply_timeout":            ApplyTimeout.String(),
		"bootstrap_timeout":               BootstrapTimeout.String(),
		"description":                     map[string]any{"non_identifying_attributes": opts.Labels},
	}
	if opts.TelemetryPort > 0 {
		local := filepath.Join(opts.Dir, "local.yaml")
		cfg := fmt.Sprintf("service:\n  telemetry:\n    metrics:\n      readers:\n        - pull:\n            exporter:\n              prometheus:\n                host: 127.0.0.1\n                port: %d\n", opts.TelemetryPort)
		if err := os.WriteFile(local, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		agent["config_files"] = []string{local}
	}
	server := map[string]any{"endpoint": opts.Server}
	env := []string{apitypes.AgentTokenEnv + "=" + opts.Token}
	switch {
	case opts.IdentityDir != "":
		dir, err := filepath.Abs(opts.IdentityDir)
		if err != nil {
			return nil, err
		}
		token := "${file:" + filepath.Join(dir, apitypes.AgentTokenFile) + "}"
		server["headers"] = map[string]any{"Authorization": "Bearer " + token}
		agent["instance_id"] = "${file:" + filepath.Join(dir, apitypes.AgentInstanceIDFile) + "}"
		agent["env"] = map[string]any{apitypes.AgentTokenEnv: token}
		env = nil
	case opts.Token != "":
		server["headers"] = map[string]any{"Authorization": "Bearer " + opts.Token}
	}
	level := opts.LogLevel
	if level == "" {
		level = "info"
	}
	raw, err := yaml.Marshal(map[string]any{
		"server": server,
		"capabilities": map[string]any{
			"accepts_remote_config": true, "reports_effective_config": true, "reports_own_metrics": true,
			"reports_health": true, "reports_remote_config": true,
		},
		"agent":     agent,
		"storage":   map[string]any{"directory": s.StorageDir},
		"telemetry": map[string]any{"logs": map[string]any{"level": level}},
	})
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(opts.Dir, "supervisor.yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		return nil, err
	}
	logFile, err := os.Create(s.LogPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(opts.Binary, "--config", cfgPath)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	s.cmd.Env = append(os.Environ(), env...)
	// Its own process group, so stopping it reaches its collector too.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", opts.Binary, err)
	}
	go func() {
		_ = s.cmd.Wait()
		_ = logFile.Close()
		close(s.done)
	}()
	return s, nil
}

// Done is closed when the supervisor has exited.
func (s *Supervisor) Done() <-chan struct{} { return s.done }

// Log returns the supervisor's log and the collector's.
func (s *Supervisor) Log() string {
	var b strings.Builder
	for _, p := range []string{s.LogPath, filepath.Join(s.StorageDir, "agent.log")} {
		if raw, err := os.ReadFile(p); err == nil {
			fmt.Fprintf(&b, "==> %s <==\n%s\n", p, raw)
		}
	}
	return b.String()
}

// Stop signals the supervisor and its collector to stop and waits up to grace
// before killing them.
func (s *Supervisor) Stop(grace time.Duration) {
	select {
	case <-s.done:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(grace):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}
