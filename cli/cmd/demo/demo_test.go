package demo

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/demo"
	"github.com/phoenix/platform/cli/internal/clitest"
)

// parsed returns the options the flags make, without running the demo.
func parsed(t *testing.T, args ...string) *Options {
	t.Helper()
	opts, err := clitest.Parse(t, NewCmd, args...)
	require.NoError(t, err)
	return opts
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
	out, errOut, err := clitest.Run(t, clitest.Real(NewCmd), "--duration", "1m")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--duration must be at least")
	assert.Empty(t, out)
	assert.Empty(t, errOut)

	_, _, err = clitest.Run(t, clitest.Real(NewCmd), "extra")
	assert.Error(t, err, "demo takes no arguments")
}
