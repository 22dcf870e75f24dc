package loadsim

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/loadsim"
	"github.com/phoenix/platform/receivers/processsim/profiles"
)

func TestRunFlagsFillTheOptions(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	cmd := NewRunCmd(ios)
	require.NoError(t, cmd.ParseFlags([]string{
		"--profile", "custom", "--seed", "9", "--duration", "30s",
		"--processes", "12", "--daemons", "3", "--starts-per-second", "0.5",
		"--busy-fraction", "0.2", "--busy-cores", "1.5", "--idle-cores", "0.01",
		"--critical", "postgres,nginx",
		"--max-processes", "50", "--max-cpu", "0.5", "--max-memory-mb", "256", "--max-starts-per-second", "4",
	}))
	got, err := cmd.Flags().GetString("profile")
	require.NoError(t, err)
	assert.Equal(t, "custom", got)
	for flag, want := range map[string]string{
		"processes": "12", "daemons": "3", "starts-per-second": "0.5",
		"busy-fraction": "0.2", "busy-cores": "1.5", "idle-cores": "0.01",
	} {
		assert.Equal(t, want, cmd.Flags().Lookup(flag).Value.String(), flag)
	}
	assert.Equal(t, "int", cmd.Flags().Lookup("processes").Value.Type())
	assert.Equal(t, "float", cmd.Flags().Lookup("busy-cores").Value.Type())
}

func TestUnsetParamFlagsStayUnset(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	cmd := NewRunCmd(ios)
	require.NoError(t, cmd.ParseFlags([]string{"--profile", "realistic"}))
	assert.Empty(t, cmd.Flags().Lookup("processes").Value.String())
	assert.Empty(t, cmd.Flags().Lookup("busy-fraction").Value.String())
}

func TestRunFlagErrors(t *testing.T) {
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
			ios, _, _ := cmdutil.Test()
			cmd := NewRunCmd(ios)
			cmd.SetArgs(tt.args)
			cmd.SetOut(ios.Out)
			cmd.SetErr(ios.ErrOut)
			err := cmd.Execute()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestDryRunPrintsThePlanAndStartsNothing(t *testing.T) {
	ios, out, errOut := cmdutil.Test()
	cmd := NewCmd(ios)
	cmd.SetArgs([]string{"run", "--dry-run", "--profile", "custom", "--processes", "7", "--critical", "postgres", "--duration", "90s"})
	require.NoError(t, cmd.Execute())
	assert.Contains(t, out.String(), "Profile     custom (seed 4)\n")
	assert.Contains(t, out.String(), "Duration    1m30s\n")
	assert.Contains(t, out.String(), "Processes   7 workers, 4 of them daemons (critical: postgres)\n")
	assert.Empty(t, errOut.String())
}

func TestDryRunRejectsParamsOnANamedProfile(t *testing.T) {
	ios, _, _ := cmdutil.Test()
	err := Run(t.Context(), &RunOptions{IO: ios, DryRun: true, Progress: 1, Options: loadsim.Options{
		Profile: profiles.HighChurn, Params: profiles.Params{Processes: ptr(3)},
		Duration: 1, Caps: loadsim.Caps{MaxProcesses: 1, MaxCPU: 1},
	}})
	assert.ErrorIs(t, err, profiles.ErrParamsNeedCustom)
}

func ptr[T any](v T) *T { return &v }

func TestRunDefaultsFitTheLargestProfile(t *testing.T) {
	ios, out, _ := cmdutil.Test()
	cmd := NewCmd(ios)
	cmd.SetArgs([]string{"run", "--dry-run", "--profile", "high-cardinality", "--max-cpu", "1"})
	require.NoError(t, cmd.Execute())
	assert.Contains(t, out.String(), "Processes   1729 workers, 10 of them daemons")
	assert.Contains(t, out.String(), "Ramp        the 1729 workers start over 34.6s")
	assert.NotContains(t, out.String(), "--max-processes")
}

func TestRunRampFlag(t *testing.T) {
	ios, out, _ := cmdutil.Test()
	cmd := NewCmd(ios)
	cmd.SetArgs([]string{"run", "--dry-run", "--ramp", "90s"})
	require.NoError(t, cmd.Execute())
	assert.Contains(t, out.String(), "start over 1m30s (set by --ramp), daemons first")

	ios, _, _ = cmdutil.Test()
	err := Run(t.Context(), &RunOptions{IO: ios, DryRun: true, Progress: 0})
	assert.ErrorContains(t, err, "--progress must be positive")
}

func TestRunWithoutAWorkerSaysHowToBuildIt(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("loadsim run needs Linux")
	}
	ios, _, _ := cmdutil.Test()
	cmd := NewCmd(ios)
	cmd.SetArgs([]string{"run", "--worker", "/nonexistent/phoenix-loadworker"})
	err := cmd.Execute()
	assert.ErrorContains(t, err, "--worker /nonexistent/phoenix-loadworker")
}

func TestProfilesListsEveryProfile(t *testing.T) {
	all, err := profiles.All()
	require.NoError(t, err)

	t.Run("table", func(t *testing.T) {
		ios, out, _ := cmdutil.Test()
		cmd := NewCmd(ios)
		cmd.SetArgs([]string{"profiles"})
		require.NoError(t, cmd.Execute())
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		require.Len(t, lines, len(all)+1)
		assert.Regexp(t, `^NAME\s+PROCESSES\s+STARTS/S\s+DAEMONS\s+CRITICAL\s+SEED\s+DESCRIPTION$`, lines[0])
		assert.Regexp(t, `^high-cardinality\s+1000–2000\s+0.1–0.5\s+10\s+postgres,nginx,sshd\s+2\s+Crowded host`, lines[2])
	})
	t.Run("json", func(t *testing.T) {
		ios, out, _ := cmdutil.Test()
		require.NoError(t, RunProfiles(&ProfilesOptions{IO: ios, Format: cmdutil.FormatJSON}))
		var got []map[string]any
		require.NoError(t, json.Unmarshal(out.Bytes(), &got))
		require.Len(t, got, len(all))
		assert.Equal(t, "realistic", got[3]["name"])
		assert.Equal(t, map[string]any{"min": 50.0, "max": 200.0}, got[3]["processes"])
	})
	t.Run("yaml round-trips as profiles", func(t *testing.T) {
		ios, out, _ := cmdutil.Test()
		require.NoError(t, RunProfiles(&ProfilesOptions{IO: ios, Format: cmdutil.FormatYAML}))
		var got []profiles.Profile
		require.NoError(t, yaml.Unmarshal(out.Bytes(), &got))
		assert.Equal(t, all, got)
	})
}
