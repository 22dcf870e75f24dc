package chain

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// processLifetime bounds every process the test starts, whatever happens to
// the test.
const processLifetime = 2 * time.Minute

// program is a copy of a system program under a distinctive name, so the
// process scraper reports that name as process.executable.name.
type program struct{ path string }

// copyProgram copies src into dir as name.
func copyProgram(t *testing.T, dir, src, name string) program {
	t.Helper()
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, data, 0o755))
	return program{path: path}
}

// start runs the program with args. The process is killed and reaped in
// Cleanup; it dies with the test binary (SIGKILL on parent death) and after
// processLifetime in any case.
func (p program) start(t *testing.T, args ...string) *os.Process {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), processLifetime)
	cmd := exec.CommandContext(ctx, p.path, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	require.NoError(t, cmd.Start(), "starting %s", p.path)
	t.Cleanup(func() {
		cancel() // kills it
		err := cmd.Wait()
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			assert.NoError(t, err, "reaping %s", p.path)
		}
	})
	return cmd.Process
}
