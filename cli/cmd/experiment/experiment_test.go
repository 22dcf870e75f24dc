package experiment

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/internal/clitest"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/experiments"
)

const specFile = `name: from-file
description: top-k on the test hosts
targets: {selector: env=test}
baseline: {pipeline: topk, parameters: {k: 20}}
candidate: {pipeline: topk-rollup, parameters: {k: 10}}
parameters: {collection_interval: 30s}
duration: 10m
warmup: 2m
success_criteria: {min_series_reduction: 0.5}
`

// created runs `create args...` and returns the stored experiment.
func created(t *testing.T, e *clitest.ExperimentServer, args ...string) (apitypes.Experiment, string) {
	t.Helper()
	out, errOut, err := e.Run(t, NewCmd, append([]string{"create"}, args...)...)
	require.NoError(t, err)
	id := strings.TrimSpace(out)
	require.True(t, strings.HasPrefix(id, "exp-"), "create prints the ID alone: %q", out)
	return e.Get(id), errOut
}

func TestCreateFromFile(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x, errOut := created(t, e, "-f", clitest.WriteFile(t, "exp.yaml", specFile))
	assert.Equal(t, "from-file", x.Name)
	assert.Equal(t, apitypes.ExperimentPending, x.Status)
	assert.False(t, x.State.StartRequested)
	assert.Equal(t, apitypes.Variant{Pipeline: "topk", Parameters: map[string]any{"k": float64(20)}}, x.Spec.Baseline)
	assert.Equal(t, 10*time.Minute, x.Spec.Duration.D())
	assert.Equal(t, 2*time.Minute, x.Spec.Warmup.D())
	assert.InDelta(t, 0.5, x.Spec.SuccessCriteria.MinSeriesReduction, 1e-9)
	assert.Equal(t, `created experiment "from-file" (pending); next: phoenix experiment start `+x.ID+"\n", errOut)
}

func TestCreateFlagsOverrideTheFile(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x, _ := created(t, e, "-f", clitest.WriteFile(t, "exp.yaml", specFile),
		"--name", "from-flags", "--selector", "env=test,host.name=~web-.*", "--mode", "split",
		"--baseline", "current", "--candidate", "topk",
		"--param", "collection_interval=15s", "-p", "system_metrics=false", "-p", `health_check_endpoint="127.0.0.1:13134"`,
		"--candidate-param", "k=15", "--candidate-param", "rank_by=[cpu, memory]",
		"--duration", "30m", "--warmup", "5m", "--min-series-reduction", "0.8")
	s := x.Spec
	assert.Equal(t, "from-flags", s.Name)
	assert.Equal(t, "top-k on the test hosts", s.Description, "what no flag sets stays as the file has it")
	assert.Equal(t, "env=test,host.name=~web-.*", s.Targets.Selector)
	assert.Equal(t, apitypes.ModeSplit, s.Mode)
	assert.Equal(t, apitypes.Variant{Current: true, Parameters: map[string]any{"k": float64(20)}}, s.Baseline,
		"--baseline current replaces the file's pipeline")
	assert.Equal(t, "topk", s.Candidate.Pipeline)
	assert.Equal(t, map[string]any{"k": float64(15), "rank_by": []any{"cpu", "memory"}}, s.Candidate.Parameters,
		"flags are YAML values, added to the file's")
	assert.Equal(t, map[string]any{"collection_interval": "15s", "system_metrics": false, "health_check_endpoint": "127.0.0.1:13134"}, s.Parameters)
	assert.Equal(t, 30*time.Minute, s.Duration.D())
	assert.Equal(t, 5*time.Minute, s.Warmup.D())
	assert.InDelta(t, 0.8, s.SuccessCriteria.MinSeriesReduction, 1e-9)
}

func TestCreateFidelityCriteria(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x, _ := created(t, e, "--name", "fid", "-l", "env=test", "--candidate", "topk", "--duration", "2m",
		"--min-cpu-coverage", "0.95", "--max-blind-spots-per-hour", "0")
	c := x.Spec.SuccessCriteria
	require.NotNil(t, c.MinCPUCoverage)
	assert.InDelta(t, 0.95, *c.MinCPUCoverage, 1e-9)
	require.NotNil(t, c.MaxBlindSpotsPerHour)
	assert.Zero(t, *c.MaxBlindSpotsPerHour, "0 is a criterion: no blind spot allowed")

	y, _ := created(t, e, "--name", "nofid", "-l", "env=test", "--candidate", "topk", "--duration", "2m")
	assert.Nil(t, y.Spec.SuccessCriteria.MinCPUCoverage, "not given: reported, not judged")
	assert.Nil(t, y.Spec.SuccessCriteria.MaxBlindSpotsPerHour)

	for _, bad := range [][]string{{"--min-cpu-coverage", "95"}, {"--min-cpu-coverage", "NaN"}, {"--max-blind-spots-per-hour", "-1"}, {"--max-blind-spots-per-hour", "+Inf"}} {
		_, _, err := e.Run(t, NewCmd, append([]string{"create", "--name", "bad", "-l", "env=test", "--candidate", "topk", "--duration", "2m"}, bad...)...)
		require.Error(t, err, bad)
		assert.Contains(t, err.Error(), bad[0], "the error names the flag")
	}
}

func TestCreateFromFlagsAlone(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x, errOut := created(t, e, "--name", "flags", "-l", "env=test", "--candidate", "topk-rollup",
		"--baseline", "topk", "--baseline-param", "k=5", "--duration", "2m", "--start")
	assert.Equal(t, "topk", x.Spec.Baseline.Pipeline)
	assert.Equal(t, map[string]any{"k": float64(5)}, x.Spec.Baseline.Parameters)
	assert.Equal(t, apitypes.ModePaired, x.Spec.Mode)
	assert.Equal(t, experiments.DefaultWarmup, x.Spec.Warmup.D())
	assert.True(t, x.State.StartRequested, "--start starts it")
	assert.Contains(t, errOut, "next: phoenix experiment watch "+x.ID)

	again, _ := created(t, e, "--name", "flags", "-l", "env=test", "--candidate", "topk", "--baseline", "topk", "--duration", "2m")
	assert.Equal(t, apitypes.Variant{Pipeline: "topk"}, again.Spec.Baseline)
}

func TestCreateStructuredOutput(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	out, _, err := e.Run(t, NewCmd, "create", "--name", "json", "-l", "env=test", "--candidate", "topk", "--duration", "2m", "-o", "json")
	require.NoError(t, err)
	var x apitypes.Experiment
	require.NoError(t, json.Unmarshal([]byte(out), &x))
	assert.Equal(t, "json", x.Name)
	assert.Equal(t, "topk", x.Spec.Candidate.Pipeline)
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	bad := clitest.WriteFile(t, "bad.yaml", "name: x\ncolour: red\n")
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing file", []string{"-f", filepath.Join(t.TempDir(), "none.yaml")}, []string{"no such file"}},
		{"invalid file", []string{"-f", bad}, []string{bad + ": experiment spec", "colour"}},
		{"a parameter without a value", []string{"--name", "x", "-l", "env=test", "--candidate", "topk", "--duration", "2m", "-p", "k"},
			[]string{`"k": want key=value`}},
		{"a bad YAML value", []string{"--name", "x", "-l", "env=test", "--candidate", "topk", "--duration", "2m", "--candidate-param", "k=[1"},
			[]string{"k:"}},
		{"refused by the server", []string{"--candidate", "topk", "--duration", "2m"},
			[]string{"creating experiment", "HTTP 400", "name: required", "targets.selector: required"}},
		{"an unknown pipeline", []string{"--name", "x", "-l", "env=test", "--candidate", "nope", "--duration", "2m"},
			[]string{"HTTP 400", `pipeline "nope"`}},
		{"an argument", []string{"extra"}, []string{"unknown command"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := e.Run(t, NewCmd, append([]string{"create"}, tt.args...)...)
			require.Error(t, err)
			for _, want := range tt.want {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
	out, _, err := e.Run(t, NewCmd, "list", "-o", "json")
	require.NoError(t, err)
	assert.JSONEq(t, "[]", out, "nothing was created")
}

func TestActions(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	e.Agent("a1")
	x := e.Create("actions")

	out, _, err := e.Run(t, NewCmd, "promote", x.ID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "promote "+x.ID+":")
	assert.Contains(t, err.Error(), "HTTP 409")
	assert.Empty(t, out)

	out, _, err = e.Run(t, NewCmd, "start", x.ID)
	require.NoError(t, err)
	assert.Equal(t, x.ID+": start (pending)\n", out)
	e.Controller.ReconcileAll(t.Context())
	e.Apply(x.ID)
	e.Finish(x.ID)

	out, _, err = e.Run(t, NewCmd, "promote", x.ID, "-o", "json")
	require.NoError(t, err)
	var promoted apitypes.Experiment
	require.NoError(t, json.Unmarshal([]byte(out), &promoted))
	assert.True(t, promoted.State.Promoted)
	asg, err := e.Store.GetAssignment(t.Context(), "a1")
	require.NoError(t, err)
	assert.Equal(t, "topk-rollup", asg.Pipeline)

	out, _, err = e.Run(t, NewCmd, "rollback", x.ID)
	require.NoError(t, err)
	assert.Equal(t, x.ID+": rollback (completed)\n", out)
	asg, err = e.Store.GetAssignment(t.Context(), "a1")
	require.NoError(t, err)
	assert.Equal(t, "baseline", asg.Pipeline)

	y := e.Create("stopped")
	out, _, err = e.Run(t, NewCmd, "stop", y.ID)
	require.NoError(t, err)
	assert.Equal(t, y.ID+": stop (pending)\n", out)

	_, _, err = e.Run(t, NewCmd, "start", "exp-none")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 404")
	_, _, err = e.Run(t, NewCmd, "start")
	assert.Error(t, err, "an ID is required")
}

func TestList(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	done := e.Completed("done")
	pending := e.Create("waiting")

	out, _, err := e.Run(t, NewCmd, "list")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3)
	assert.Equal(t, []string{"ID", "NAME", "MODE", "STATUS", "PROGRESS", "TARGETS", "VERDICT", "CREATED"}, strings.Fields(lines[0]))
	assert.Equal(t, []string{done.ID, "done", "paired", "completed", "100%", "2", "pass"}, strings.Fields(lines[1])[:7])
	assert.Equal(t, []string{pending.ID, "waiting", "paired", "pending", "0%", "0", "-"}, strings.Fields(lines[2])[:7])
	assert.Contains(t, lines[1], done.CreatedAt.Local().Format(time.DateTime))

	out, _, err = e.Run(t, NewCmd, "list", "--status", "pending,running", "-o", "json")
	require.NoError(t, err)
	var xs []apitypes.Experiment
	require.NoError(t, json.Unmarshal([]byte(out), &xs))
	require.Len(t, xs, 1)
	assert.Equal(t, pending.ID, xs[0].ID)

	out, _, err = e.Run(t, NewCmd, "list", "-o", "yaml", "--status", "completed")
	require.NoError(t, err)
	var docs []map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(out), &docs))
	require.Len(t, docs, 1)
	assert.Equal(t, done.ID, docs[0]["id"])

	_, _, err = e.Run(t, NewCmd, "list", "--status", "sideways")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown status "sideways" (valid: pending, deploying, running, analyzing, completed, failed, cancelled)`,
		"an unknown status is refused before any request, naming the valid ones")
}

func TestStatusCommand(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x := e.Completed("status")
	out, _, err := e.Run(t, NewCmd, "status", x.ID)
	require.NoError(t, err)
	assert.Contains(t, out, "Experiment:  status ("+x.ID+")")
	assert.Contains(t, out, "Status:      completed  [████████████████████] 100%")
	assert.Contains(t, out, "Verdict:     pass")
	assert.Contains(t, out, "(done)")
	assert.Contains(t, out, "running → analyzing: measurement window complete")
	assert.Contains(t, out, "Targets:     2 targets, applied 2/2\n", "paired: one variant, both")
	assert.Contains(t, out, "\nTARGETS\n")
	assert.Equal(t, []string{""}, e.Gets(), "the table lists each target: it asks for them")

	out, _, err = e.Run(t, NewCmd, "status", x.ID, "--targets=false")
	require.NoError(t, err)
	assert.Contains(t, out, "Targets:     2 targets, applied 2/2\n")
	assert.NotContains(t, out, "TARGETS")
	assert.Equal(t, "targets=false", e.Gets()[1])

	out, _, err = e.Run(t, NewCmd, "status", x.ID, "-o", "json")
	require.NoError(t, err)
	var got apitypes.Experiment
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.Equal(t, x.ID, got.ID)
	assert.Len(t, got.Events, len(x.Events))

	_, _, err = e.Run(t, NewCmd, "status", "exp-none")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "experiment exp-none")
}

func TestReport(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	x := e.Completed("report <1>")
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	require.NoError(t, os.WriteFile(file, []byte("the previous report"), 0o600))

	_, _, err := e.Run(t, NewCmd, "report", "exp-none", "--html", file)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "report exp-none")
	assert.Contains(t, err.Error(), "HTTP 404")
	kept, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "the previous report", string(kept), "a failed report leaves the file alone")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "and no temporary file behind")

	_, errOut, err := e.Run(t, NewCmd, "report", x.ID, "--html", file)
	require.NoError(t, err)
	assert.Equal(t, "wrote "+file+"\n", errOut)
	got, err := os.ReadFile(file)
	require.NoError(t, err)
	assert.Equal(t, "<!doctype html><title>report &lt;1&gt;</title>", string(got))
	info, err := os.Stat(file)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), "readable like any file written in place")

	_, _, err = e.Run(t, NewCmd, "report", x.ID)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--html FILE is required")
	_, _, err = e.Run(t, NewCmd, "report", x.ID, "--html", filepath.Join(dir, "missing", "r.html"))
	assert.Error(t, err, "the directory must exist")
}

func TestReportIsWrittenWholeOrNotAtAll(t *testing.T) {
	t.Parallel()
	// A server that breaks off mid-report.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1000")
		_, _ = w.Write([]byte("<!doctype html><p>the first part"))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	ios, _, errOut := cmdutil.Test()
	err := runReport(t.Context(), &ReportOptions{IO: ios, Client: &cmdutil.ClientOptions{Server: srv.URL, Token: "t"},
		ID: "exp-1", HTML: file})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "report exp-1")
	assert.Empty(t, errOut.String())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "a truncated report is not written")
}

func TestListNothing(t *testing.T) {
	t.Parallel()
	e := clitest.NewExperimentServer(t)
	out, errOut, err := e.Run(t, NewCmd, "list")
	require.NoError(t, err)
	assert.Empty(t, out)
	assert.Equal(t, "no experiments\n", errOut)
	for _, format := range []string{"json", "yaml"} {
		out, _, err = e.Run(t, NewCmd, "list", "-o", format)
		require.NoError(t, err)
		assert.Equal(t, "[]\n", out, format)
	}
}

func TestCreateRecordsWhichFlagsWereGiven(t *testing.T) {
	t.Parallel()
	opts, err := clitest.Parse(t, func(ios *cmdutil.IOStreams, runF func(context.Context, *CreateOptions) error) *cobra.Command {
		return NewCmdCreate(ios, &cmdutil.ClientOptions{}, runF)
	}, "-f", "exp.yaml", "--name", "", "--duration", "30m")
	require.NoError(t, err)
	spec := apitypes.ExperimentSpec{Name: "from-file", Duration: apitypes.Duration(time.Minute), Warmup: apitypes.Duration(time.Minute)}
	require.NoError(t, opts.overlay(&spec))
	assert.Empty(t, spec.Name, "a flag given empty still overrides the file")
	assert.Equal(t, 30*time.Minute, spec.Duration.D())
	assert.Equal(t, time.Minute, spec.Warmup.D(), "a flag not given leaves the file's value")
	assert.Equal(t, "baseline", spec.Baseline.Pipeline, "the default baseline")
}
