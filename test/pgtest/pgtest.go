// Package pgtest runs throwaway PostgreSQL servers for tests: initdb into a
// temporary directory, a server on a free 127.0.0.1 port with durability
// off, and a fresh database per caller. It needs the PostgreSQL server
// binaries (Debian package postgresql-15); as root it runs them as the
// postgres (or nobody) user, since PostgreSQL refuses to run as root.
package pgtest // import "github.com/phoenix/platform/test/pgtest"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Start starts a PostgreSQL server private to tb, stopped in tb.Cleanup,
// and returns the postgres:// DSN of a fresh database in it (the user is a
// superuser).
func Start(tb testing.TB) (dsn string) {
	tb.Helper()
	c, err := startCluster()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.stop(); err != nil {
			tb.Errorf("pgtest: stop: %v", err)
		}
	})
	name, err := c.createDatabase(context.Background())
	if err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	return c.dsn(name)
}

// shared is the server StartShared hands databases out of, started on
// first use and stopped by Main.
var shared struct {
	inMain  atomic.Bool
	mu      sync.Mutex
	cluster *cluster
	err     error // a failed start is not retried
}

// Main runs a test package that uses StartShared and then stops the shared
// server. Call it from the package's TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	shared.inMain.Store(true)
	defer stopShared()
	m.Run()
}

func stopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.cluster != nil {
		_ = shared.cluster.stop()
		shared.cluster = nil
	}
}

// StartShared returns the DSN of a fresh database, dropped in tb.Cleanup, in
// one server shared by the whole test binary, which is much faster than a
// server per test. The package's TestMain must call Main.
func StartShared(tb testing.TB) (dsn string) {
	tb.Helper()
	if !shared.inMain.Load() {
		tb.Fatal("pgtest: StartShared needs `func TestMain(m *testing.M) { pgtest.Main(m) }` in the test package")
	}
	shared.mu.Lock()
	if shared.cluster == nil && shared.err == nil {
		shared.cluster, shared.err = startCluster()
	}
	c, err := shared.cluster, shared.err
	shared.mu.Unlock()
	if err != nil {
		tb.Fatal(err)
	}
	name, err := c.createDatabase(context.Background())
	if err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.dropDatabase(context.Background(), name); err != nil {
			tb.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.dsn(name)
}

// StartFreezable is Start for a test of a database that stops answering:
// freeze stops every PostgreSQL process (SIGSTOP: connections stay open,
// nothing replies), thaw resumes them. The server is thawed before it is
// stopped.
func StartFreezable(tb testing.TB) (dsn string, freeze, thaw func()) {
	tb.Helper()
	c, err := startCluster()
	if err != nil {
		tb.Fatal(err)
	}
	kill := func(sig syscall.Signal, pid int) {
		if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
			tb.Errorf("pgtest: %v %d: %v", sig, pid, err)
		}
	}
	// Backends start sessions of their own, so the postmaster's process
	// group does not hold them: each child is signalled. The postmaster
	// stops first, so it cannot fork a backend (a pool's new connection)
	// that the list of children misses and that would go on answering; a
	// signal is delivered after kill returns, so the list is taken once the
	// postmaster is seen stopped, and again until it holds no child still
	// running.
	freeze = func() {
		postmaster := c.cmd.Process.Pid
		kill(syscall.SIGSTOP, postmaster)
		waitStopped(tb, postmaster)
		for {
			running := 0
			for _, pid := range children(postmaster) {
				if !stopped(pid) {
					running++
					kill(syscall.SIGSTOP, pid)
					waitStopped(tb, pid)
				}
			}
			if running == 0 {
				return
			}
		}
	}
	thaw = func() {
		for _, pid := range children(c.cmd.Process.Pid) {
			kill(syscall.SIGCONT, pid)
		}
		kill(syscall.SIGCONT, c.cmd.Process.Pid)
	}
	tb.Cleanup(func() {
		thaw()
		if err := c.stop(); err != nil {
			tb.Errorf("pgtest: stop: %v", err)
		}
	})
	name, err := c.createDatabase(context.Background())
	if err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	return c.dsn(name), freeze, thaw
}

// stopped reports whether process pid is stopped (state T, or t when
// traced), or will never run again: a zombie (a backend that exited, which
// the stopped postmaster cannot reap) or gone.
func stopped(pid int) bool {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	end := strings.LastIndexByte(string(raw), ')')
	fields := strings.Fields(string(raw[end+1:]))
	return len(fields) > 0 && strings.ContainsAny(fields[0], "TtZX")
}

// waitStopped waits until process pid has stopped, for at most 5 s.
func waitStopped(tb testing.TB, pid int) {
	for deadline := time.Now().Add(5 * time.Second); !stopped(pid); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			tb.Errorf("pgtest: process %d did not stop", pid)
			return
		}
	}
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, path := range stats {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so read after ')'.
		end := strings.LastIndexByte(string(raw), ')')
		fields := strings.Fields(string(raw[end+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			if child, err := strconv.Atoi(strings.Fields(string(raw))[0]); err == nil {
				out = append(out, child)
			}
		}
	}
	return out
}
