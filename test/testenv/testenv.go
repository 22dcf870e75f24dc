// Package testenv locates what the end-to-end tests run: the binaries that
// `make build` puts in bin/, and the repository they belong to. Tests never
// build anything themselves; a missing binary fails the test with the command
// that makes it.
package testenv // import "github.com/phoenix/platform/test/testenv"

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
)

// RepoRoot returns the repository's top directory.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the repository")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Binary returns the path of a built binary (phoenix-collector, phoenix,
// opampsupervisor). PHOENIX_BIN_DIR overrides the default bin/ directory.
func Binary(tb testing.TB, name string) string {
	tb.Helper()
	dir := os.Getenv("PHOENIX_BIN_DIR")
	if dir == "" {
		dir = filepath.Join(RepoRoot(tb), "bin")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		tb.Fatalf("%s is not built (%v): run `make build` first", path, err)
	}
	return path
}

// WriteFile writes content to name inside dir and returns the path.
func WriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BusyLoops starts n CPU-bound processes (shell busy loops) that run until
// the test ends, so a test can prove what it checks still holds on a host
// whose cores are taken.
func BusyLoops(tb testing.TB, n int) {
	tb.Helper()
	for range n {
		cmd := exec.Command("/bin/sh", "-c", "while :; do :; done")
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			tb.Fatalf("starting a busy loop: %v", err)
		}
		tb.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
}
