package loadsim

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/cli/loadsim"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

func ptr[T any](v T) *T { return &v }

func TestRunFlagsFillTheOptions(t *testing.T) {
	t.Parallel()
	opts, err := clitest.Parse(t, NewCmdRun,
		"--profile", "custom", "--seed", "9", "--duration", "30s", "--ramp", "10s",
		"--processes", "12", "--daemons", "3", "--starts-per-second", "0.5",
		"--busy-fraction", "0.2", "--busy-cores", "1.5", "--idle-cores", "0.01",
		"--critical", "postgres,nginx",
		"--max-processes", "50", "--max-cpu", "0.5", "--max-memory-mb", "256", "--max-starts-per-second", "4",
		"--dry-run", "--progress", "1s", "--worker", "/opt/phoenix-loadworker",
	)
	require.NoError(t, err)
	assert.Equal(t, loadsim.Options{
		Profile: "custom", Seed: 9, Duration: 30 * time.Second, Ramp: 10 * time.Second,
		Params: profiles.Params{Processes: ptr(12), Daemons: ptr(3), StartsPerSecond: ptr(0.5),
			CPU:           profiles.CPUParams{BusyFraction: ptr(0.2), BusyCores: ptr(1.5), IdleCores: ptr(0.01)},
			CriticalNames: []string{"postgres", "nginx"}},
		Caps: loadsim.Caps{MaxProcesses: 50, MaxCPU: 0.5, MaxMemoryMB: 256, MaxStartsPerSecond: 4},
	}, opts.Options)
	assert.True(t, opts.DryRun)
	assert.Equal(t, time.Second, opts.Progress)
	assert.Equal(t, "/opt/phoenix-loadworker", opts.Worker)

	ios, _, _ := cmdutil.Test()
	flags := NewCmdRun(ios, nil).Flags()
	assert.Equal(t, "int", flags.Lookup("processes").Value.Type())
	assert.Equal(t, "float", flags.Lookup("busy-cores").Value.Type())
}

func TestUnsetParamFlagsStayUnset(t *testing.T) {
	t.Parallel()
	opts, err := clitest.Parse(t, NewCmdRun, "--profile", "realistic")
	require.NoError(t, err)
	assert.True(t, opts.Params.IsZero(), "the profile's own parameters apply")
	assert.Equal(t, loadsim.Caps{MaxProcesses: loadsim.DefaultMaxProcesses, MaxCPU: float64(runtime.NumCPU()) / 2,
		MaxMemoryMB: loadsim.DefaultMaxMemoryMB, MaxStartsPerSecond: loadsim.DefaultMaxStartsPerSecond}, opts.Caps)
	assert.Equal(t, 5*time.Minute, opts.Duration)
	assert.Equal(t, 5*time.Second, opts.Progress)

	ios, _, _ := cmdutil.Test()
	cmd := NewCmdRun(ios, nil)
	require.NoError(t, cmd.ParseFlags([]string{"--profile", "realistic"}))
	assert.Empty(t, cmd.Flags().Lookup("processes").Value.String(), "no default shown for an unset parameter")
	assert.Empty(t, cmd.Flags().Lookup("busy-fraction").Value.String())
}

func TestRunFlagErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--processes", "many"}, `not an integer: "many"`},
		{[]string{"--busy-cores", "lots"}, `not a number: "lots"`},
		{[]string{"extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			opts, err := clitest.Parse(t, NewCmdRun, tt.args...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.Nil(t, opts, "refused before running")
		})
	}
}

func TestDryRunPrintsThePlanAndStartsNothing(t *testing.T) {
	t.Parallel()
	out, errOut, err := clitest.Run(t, NewCmd, "run", "--dry-run", "--profile", "custom", "--processes", "7",
		"--critical", "postgres", "--duration", "90s")
	require.NoError(t, err)
	assert.Contains(t, out, "Profile     custom (seed 4)\n")
	assert.Contains(t, out, "Duration    1m30s\n")
	assert.Contains(t, out, "Processes   7 workers, 4 of them daemons (critical: postgres)\n")
	assert.Empty(t, errOut)
}

func TestDryRunRejectsParamsOnANamedProfile(t *testing.T) {
	t.Parallel()
	ios, _, _ := cmdutil.Test()
	err := runRun(t.Context(), &RunOptions{IO: ios, DryRun: true, Progress: 1, Options: loadsim.Options{
		Profile: profiles.HighChurn, Params: profiles.Params{Processes: ptr(3)},
		Duration: 1, Caps: loadsim.Caps{MaxProcesses: 1, MaxCPU: 1},
	}})
	assert.ErrorIs(t, err, profiles.ErrParamsNeedCustom)
}

func TestRunDefaultsFitTheLargestProfile(t *testing.T) {
	t.Parallel()
	out, _, err := clitest.Run(t, NewCmd, "run", "--dry-run", "--profile", "high-cardinality", "--max-cpu", "1")
	require.NoError(t, err)
	assert.Contains(t, out, "Processes   1729 workers, 10 of them daemons")
	assert.Contains(t, out, "Ramp        the 1729 workers start over 34.6s")
	assert.NotContains(t, out, "--max-processes")
}

func TestRunRampFlag(t *testing.T) {
	t.Parallel()
	out, _, err := clitest.Run(t, NewCmd, "run", "--dry-run", "--ramp", "90s")
	require.NoError(t, err)
	assert.Contains(t, out, "start over 1m30s (set by --ramp), daemons first")

	ios, _, _ := cmdutil.Test()
	err = runRun(t.Context(), &RunOptions{IO: ios, DryRun: true, Progress: 0})
	assert.ErrorContains(t, err, "--progress must be positive")
}

func TestRunWithoutAWorkerSaysHowToBuildIt(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("loadsim run needs Linux")
	}
	_, _, err := clitest.Run(t, NewCmd, "run", "--worker", "/nonexistent/phoenix-loadworker")
	assert.ErrorContains(t, err, "--worker /nonexistent/phoenix-loadworker")
}

func TestProfilesListsEveryProfile(t *testing.T) {
	t.Parallel()
	all, err := profiles.All()
	require.NoError(t, err)

	t.Run("table", func(t *testing.T) {
		t.Parallel()
		out, _, err := clitest.Run(t, NewCmd, "profiles")
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, len(all)+1)
		assert.Regexp(t, `^NAME\s+PROCESSES\s+STARTS/S\s+DAEMONS\s+CRITICAL\s+SEED\s+DESCRIPTION$`, lines[0])
		assert.Regexp(t, `^high-cardinality\s+1000–2000\s+0.1–0.5\s+10\s+postgres,nginx,sshd\s+2\s+Crowded host`, lines[2])
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		out, _, err := clitest.Run(t, NewCmd, "profiles", "-o", "json")
		require.NoError(t, err)
		var got []map[string]any
		require.NoError(t, json.Unmarshal([]byte(out), &got))
		require.Len(t, got, len(all))
		assert.Equal(t, "realistic", got[3]["name"])
		assert.Equal(t, map[string]any{"min": 50.0, "max": 200.0}, got[3]["processes"])
	})
	t.Run("yaml round-trips as profiles", func(t *testing.T) {
		t.Parallel()
		out, _, err := clitest.Run(t, NewCmd, "profiles", "-o", "yaml")
		require.NoError(t, err)
		var got []profiles.Profile
		require.NoError(t, yaml.Unmarshal([]byte(out), &got))
		assert.Equal(t, all, got)
	})
}
