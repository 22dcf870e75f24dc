package demo

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRunRefusesBadOptionsBeforeStartingAnything(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"too short", Options{Duration: time.Minute, Profile: "realistic"}, "--duration must be at least 2m0s"},
		{"unknown profile", Options{Duration: 2 * time.Minute, Profile: "sideways"}, "--profile: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var progress bytes.Buffer
			tt.opts.Progress = &progress
			err := Run(t.Context(), tt.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, progress.String(), "nothing started, nothing to say")
		})
	}
}

func TestWorkDir(t *testing.T) {
	t.Parallel()
	given := filepath.Join(t.TempDir(), "logs", "demo")
	dir, cleanup, err := workDir(given)
	require.NoError(t, err)
	assert.Equal(t, given, dir)
	cleanup()
	assert.DirExists(t, given, "a directory the user gave is kept")

	dir, cleanup, err = workDir("")
	require.NoError(t, err)
	assert.DirExists(t, dir)
	cleanup()
	assert.NoDirExists(t, dir, "a temporary directory is removed")
}

func TestWait(t *testing.T) {
	t.Parallel()
	d := &demo{}
	polls := 0
	require.NoError(t, d.wait(t.Context(), time.Minute, "a retry", func() (bool, error) {
		polls++
		return polls == 2, errors.New("busy") // retried until it holds
	}))

	broken := errors.New("the collector could not apply the baseline")
	err := d.wait(t.Context(), time.Minute, "the baseline", func() (bool, error) { return false, stop(broken) })
	assert.Equal(t, broken, err, "a permanent failure ends the wait at once, as it is")

	err = d.wait(t.Context(), 0, "the agent", func() (bool, error) { return false, nil })
	assert.EqualError(t, err, "timed out after 0s waiting for the agent")
	err = d.wait(t.Context(), 0, "the agent", func() (bool, error) { return false, errors.New("HTTP 503") })
	assert.EqualError(t, err, "waiting for the agent: HTTP 503", "the last error says why")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = d.wait(ctx, time.Minute, "the agent", func() (bool, error) { return false, nil })
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "interrupted waiting for the agent")
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	assert.Equal(t, []string{"c", "d"}, lastLines(write("log", "a\nb\nc\nd\n"), 2))
	assert.Equal(t, []string{"a"}, lastLines(write("short", "a\n"), 5))
	assert.Nil(t, lastLines(write("empty", ""), 5))
	assert.Nil(t, lastLines(filepath.Join(dir, "missing"), 5))
}

func TestFailureContextSaysWhereTheLogsAre(t *testing.T) {
	t.Parallel()
	var progress bytes.Buffer
	d := &demo{dir: "/tmp/phoenix-demo-1", progress: &progress}
	d.printFailureContext()
	assert.Contains(t, progress.String(), "rerun with --dir DIR")

	progress.Reset()
	d.opts.Dir = "/tmp/phoenix-demo-1"
	d.printFailureContext()
	assert.Equal(t, "the server, supervisor, collector and load logs are in /tmp/phoenix-demo-1\n", progress.String())
}
