// Package localrun runs a phoenix-collector binary on this machine: start it
// with a configuration, wait until its health_check extension reports ready,
// and stop it cleanly. The demo and the end-to-end tests share it.
package localrun // import "github.com/phoenix/platform/cli/localrun"

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Options configure a collector run.
type Options struct {
	// Binary is the phoenix-collector executable.
	Binary string
	// ConfigPath is the collector configuration file.
	ConfigPath string
	// HealthURL is the health_check extension's endpoint, for example
	// "http://127.0.0.1:13133/". Empty skips health checks.
	HealthURL string
	// Args are extra command-line arguments (such as --feature-gates).
	Args []string
}

// Collector is a running collector process.
type Collector struct {
	opts Options
	cmd  *exec.Cmd
	log  *SyncBuffer
	done chan struct{}
	err  error // exit status, valid once done is closed
}

// Start launches the collector. It dies with the calling process (SIGTERM on
// parent death), so an interrupted caller leaves nothing behind.
func Start(opts Options) (*Collector, error) {
	if opts.Binary == "" || opts.ConfigPath == "" {
		return nil, errors.New("localrun: Binary and ConfigPath are required")
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return nil, fmt.Errorf("collector binary: %w (run `make build`)", err)
	}
	args := append([]string{"--config", opts.ConfigPath}, opts.Args...)
	cmd := exec.Command(opts.Binary, args...)
	log := &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", opts.Binary, err)
	}
	c := &Collector{opts: opts, cmd: cmd, log: log, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// PID returns the collector's process ID.
func (c *Collector) PID() int { return c.cmd.Process.Pid }

// Log returns everything the collector has written to stdout and stderr.
func (c *Collector) Log() string { return c.log.String() }

// Done is closed when the collector process has exited.
func (c *Collector) Done() <-chan struct{} { return c.done }

// ExitErr is the collector's exit status once Done is closed.
func (c *Collector) ExitErr() error {
	<-c.done
	return c.err
}

// WaitHealthy polls the health endpoint until it answers 200. It fails fast,
// with the collector's log, if the collector exits first.
func (c *Collector) WaitHealthy(ctx context.Context) error {
	if c.opts.HealthURL == "" {
		return errors.New("localrun: no HealthURL configured")
	}
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.opts.HealthURL, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-c.done:
			return fmt.Errorf("collector exited before becoming healthy (%v):\n%s", c.err, c.Log())
		case <-ctx.Done():
			return fmt.Errorf("collector not healthy: %w\n%s", ctx.Err(), c.Log())
		case <-tick.C:
		}
	}
}

// Stop sends SIGTERM and waits up to grace for a clean exit, then kills. It
// returns the exit status of a clean shutdown (nil for status 0).
func (c *Collector) Stop(grace time.Duration) error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.err
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("collector did not stop within %s and was killed", grace)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SyncBuffer is a bytes.Buffer safe for the writer goroutines of exec.Cmd
// and concurrent readers: a child process's output read while it runs.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
