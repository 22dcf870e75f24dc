package demo

import (
	"context"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/demo"
	"github.com/phoenix/platform/cli/internal/clitest"
)

// parsed returns the options the flags make, without running the demo.
func parsed(t *testing.T, args ...string) *Options {
	t.Helper()
	var got *Options
	_, _, err := clitest.Run(t, func(ios *cmdutil.IOStreams) *cobra.Command {
		return NewCmd(ios, func(_ context.Context, opts *Options) error { got = opts; return nil })
	}, args...)
	require.NoError(t, err)
	return got
}

func TestFlagsFillTheOptions(t *testing.T) {
	t.Parallel()
	assert.Equal(t, demo.Options{Duration: 2 * time.Minute, Warmup: 30 * time.Second, Profile: "realistic",
		Candidate: "topk-rollup", Report: "phoenix-demo-report.html"}, parsed(t).Options, "the defaults")
	assert.Equal(t, cmdutil.FormatTable, parsed(t).Format)

	got := parsed(t, "--duration", "5m", "--warmup", "1m", "--profile", "high-cardinality", "--candidate", "topk",
		"--report", "r.html", "--keep-running", "--dir", "logs", "-o", "json")
	assert.Equal(t, demo.Options{Duration: 5 * time.Minute, Warmup: time.Minute, Profile: "high-cardinality",
		Candidate: "topk", Report: "r.html", KeepRunning: true, Dir: "logs"}, got.Options)
	assert.Equal(t, cmdutil.FormatJSON, got.Format)
}

func TestRunDemoReportsBadFlags(t *testing.T) {
	t.Parallel()
	newCmd := func(ios *cmdutil.IOStreams) *cobra.Command { return NewCmd(ios, nil) }
	out, errOut, err := clitest.Run(t, newCmd, "--duration", "1m")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--duration must be at least")
	assert.Empty(t, out)
	assert.Empty(t, errOut)

	_, _, err = clitest.Run(t, newCmd, "extra")
	assert.Error(t, err, "demo takes no arguments")
}
