package demo // import "github.com/phoenix/platform/cli/demo"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/phoenix/platform/cli/agentidentity"
	"github.com/phoenix/platform/cli/experimentview"
	"github.com/phoenix/platform/cli/localrun"
	"github.com/phoenix/platform/opamp-server/apiclient"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/controlplane"
)

// demoLabel marks the demo's agent so the experiment targets only it.
const demoLabel = "phoenix.demo"

// collectorParams are the collector parameters of the demo's configurations:
// a short scrape interval so a short experiment has enough scrapes, no system
// metrics (the demo is about processes) and no backend.
var collectorParams = map[string]any{"collection_interval": "10s", "system_metrics": false, "destination": "none"}

type demo struct {
	opts     Options
	bins     binaries
	dir      string
	progress io.Writer

	srv     *controlplane.Server
	client  *apiclient.Client
	sup     *localrun.Supervisor
	loadsim *exec.Cmd
	uid     string
}

func (d *demo) run(ctx context.Context) error {
	if err := d.startServer(ctx); err != nil {
		return err
	}
	if err := d.startAgent(ctx); err != nil {
		return err
	}
	// The baseline goes first, on a quiet host: a collector starting while
	// a whole population of processes starts can miss the supervisor's apply
	// timeout. The load then ramps up under a running collector.
	if err := d.assignBaseline(ctx); err != nil {
		return err
	}
	if err := d.startLoad(); err != nil {
		return err
	}
	x, err := d.experiment(ctx)
	if err != nil {
		return err
	}
	if err := d.results(ctx, x); err != nil {
		return err
	}
	if d.opts.KeepRunning {
		d.explain()
		<-ctx.Done()
	}
	return nil
}

func (d *demo) startServer(ctx context.Context) error {
	step(d.progress, "Starting the control plane (embedded store in %s)", d.dir)
	logFile, err := os.Create(filepath.Join(d.dir, "server.log"))
	if err != nil {
		return err
	}
	cfg := controlplane.DefaultConfig()
	cfg.OpAMPListen, cfg.APIListen, cfg.DataDir, cfg.ServerID = "127.0.0.1:0", "127.0.0.1:0", filepath.Join(d.dir, "server"), "demo"
	srv, err := controlplane.New(ctx, cfg, slog.New(slog.NewTextHandler(logFile, nil)))
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		_ = srv.Stop(context.Background())
		return err
	}
	d.srv = srv
	token, err := os.ReadFile(srv.Tokens().AdminToken)
	if err != nil {
		return err
	}
	d.client = apiclient.New(srv.APIURL(), strings.TrimSpace(string(token)))
	fmt.Fprintf(d.progress, "    API %s, OpAMP %s\n", srv.APIURL(), srv.OpAMPURL())
	return nil
}

func (d *demo) startAgent(ctx context.Context) error {
	step(d.progress, "Enrolling this host and starting an OpAMP supervisor with phoenix-collector")
	enrollToken, err := os.ReadFile(d.srv.Tokens().EnrollToken)
	if err != nil {
		return err
	}
	// As `phoenix agent enroll` does on every host: the agent gets an
	// identity of its own, which the supervisor reads from its files.
	identityDir := filepath.Join(d.dir, "agent", "identity")
	id, _, err := agentidentity.Ensure(ctx, agentidentity.EnrollOptions{
		Server: d.srv.APIURL(), EnrollToken: strings.TrimSpace(string(enrollToken)), Dir: identityDir, HostName: "demo",
	})
	if err != nil {
		return err
	}
	healthPort, err := localrun.FreePort()
	if err != nil {
		return err
	}
	telemetryPort, err := localrun.FreePort()
	if err != nil {
		return err
	}
	d.sup, err = localrun.StartSupervisor(localrun.SupervisorOptions{
		Binary: d.bins.supervisor, Collector: d.bins.collector, Server: d.srv.OpAMPURL(),
		IdentityDir: identityDir, Dir: filepath.Join(d.dir, "agent"), TelemetryPort: telemetryPort,
		Labels: map[string]string{demoLabel: "true", apitypes.AgentParamLabelPrefix + "health_check_endpoint": fmt.Sprintf("127.0.0.1:%d", healthPort)},
	})
	if err != nil {
		return err
	}
	return d.wait(ctx, 60*time.Second, "the agent to connect", func() (bool, error) {
		a, err := d.client.GetAgent(ctx, id.InstanceUID)
		if apiclient.IsStatus(err, http.StatusNotFound) || (err == nil && !a.Online) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		d.uid = a.InstanceUID
		fmt.Fprintf(d.progress, "    agent %s on %s\n", d.uid, a.Description.HostName)
		return true, nil
	})
}

func (d *demo) startLoad() error {
	total := d.opts.Warmup + d.opts.Duration + 5*time.Minute // outlives the experiment; stopped by the demo
	step(d.progress, "Starting simulated load: profile %s (phoenix loadsim)", d.opts.Profile)
	logFile, err := os.Create(filepath.Join(d.dir, "loadsim.log"))
	if err != nil {
		return err
	}
	d.loadsim = exec.Command(d.bins.phoenix, "loadsim", "run", "--profile", d.opts.Profile, "--duration", total.String(),
		"--worker", d.bins.worker)
	d.loadsim.Stdout, d.loadsim.Stderr = logFile, logFile
	d.loadsim.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := d.loadsim.Start(); err != nil {
		_ = logFile.Close()
		return fmt.Errorf("starting loadsim: %w", err)
	}
	go func() { _ = d.loadsim.Wait(); _ = logFile.Close() }()
	return nil
}

func (d *demo) assignBaseline(ctx context.Context) error {
	step(d.progress, "Assigning the baseline pipeline: every process, as exported today")
	asg, err := d.client.AssignAgent(ctx, d.uid, apitypes.AssignRequest{Pipeline: "baseline", Parameters: collectorParams, Reason: "phoenix demo"})
	if err != nil {
		return err
	}
	var retrying string
	// Long enough for every apply-timeout retry the server makes.
	return d.wait(ctx, 4*time.Minute, "the baseline to apply", func() (bool, error) {
		v, err := d.client.GetAgent(ctx, d.uid)
		if err != nil {
			return false, err
		}
		switch v.Drift.State {
		case apitypes.DriftFailed:
			return false, stop(fmt.Errorf("the collector could not apply the baseline: %s", v.RemoteConfig.ErrorMessage))
		case apitypes.DriftRetrying:
			if v.Drift.Message != retrying {
				retrying = v.Drift.Message
				fmt.Fprintf(d.progress, "    %s\n", retrying)
			}
		}
		return v.RemoteConfig.Hash == asg.ConfigHash && v.RemoteConfig.Status == apitypes.ConfigStatusApplied, nil
	})
}

func (d *demo) experiment(ctx context.Context) (apitypes.Experiment, error) {
	step(d.progress, "Running a paired experiment: baseline vs %s (warm-up %s, measuring %s)", d.opts.Candidate, d.opts.Warmup, d.opts.Duration)
	spec := apitypes.ExperimentSpec{
		Name:            "demo: baseline vs " + d.opts.Candidate,
		Description:     "phoenix demo on this host with the " + d.opts.Profile + " load profile",
		Targets:         apitypes.Targets{Selector: demoLabel + "=true"},
		Mode:            apitypes.ModePaired,
		Baseline:        apitypes.Variant{Pipeline: "baseline"},
		Candidate:       apitypes.Variant{Pipeline: d.opts.Candidate},
		Parameters:      collectorParams,
		Duration:        apitypes.Duration(d.opts.Duration),
		Warmup:          apitypes.Duration(d.opts.Warmup),
		SuccessCriteria: apitypes.Criteria{MinSeriesReduction: 0.5},
	}
	x, err := d.client.CreateExperiment(ctx, spec, true)
	if err != nil {
		return x, err
	}
	fmt.Fprintf(d.progress, "    experiment %s; follow it from another terminal with:\n    phoenix experiment watch %s --server %s --token-file %s\n",
		x.ID, x.ID, d.srv.APIURL(), d.srv.Tokens().AdminToken)
	return experimentview.Follow(ctx, d.client, x.ID, 2*time.Second, d.progress, false)
}

func (d *demo) results(ctx context.Context, x apitypes.Experiment) error {
	if x.Status != apitypes.ExperimentCompleted {
		return fmt.Errorf("experiment %s ended %s: %s", x.ID, x.Status, x.State.Error)
	}
	view, err := d.client.ExperimentResults(ctx, x.ID)
	if err != nil {
		return err
	}
	r := view.Results
	report, err := os.Create(d.opts.Report)
	if err != nil {
		return err
	}
	if err := d.client.ExperimentReport(ctx, x.ID, report); err != nil {
		_ = report.Close()
		return err
	}
	if err := report.Close(); err != nil {
		return err
	}
	path, _ := filepath.Abs(d.opts.Report)
	step(d.progress, "Done. Report: %s", path)
	if d.opts.Results == nil {
		return nil
	}
	return d.opts.Results(r)
}

// stopError marks a condition error that waiting longer cannot fix.
type stopError struct{ error }

func stop(err error) error { return stopError{err} }

// wait polls cond every half second until it holds, fails for good, or times
// out; other errors (a busy server, say) are retried.
func (d *demo) wait(ctx context.Context, timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		okNow, err := cond()
		if okNow {
			return nil
		}
		var permanent stopError
		if errors.As(err, &permanent) {
			return permanent.error
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("waiting for %s: %w", what, err)
			}
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("interrupted waiting for %s: %w", what, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (d *demo) explain() {
	fmt.Fprintf(d.progress, `
Everything keeps running until Ctrl-C. Explore with:
  export PHOENIX_SERVER=%s PHOENIX_TOKEN_FILE=%s
  phoenix agent list
  phoenix experiment list
  phoenix experiment promote <id>    # make the candidate the agent's configuration
`, d.srv.APIURL(), d.srv.Tokens().AdminToken)
}

// stop ends everything the demo started, load first so no worker outlives it.
func (d *demo) stop() {
	if d.loadsim != nil && d.loadsim.Process != nil {
		_ = d.loadsim.Process.Signal(syscall.SIGTERM)
	}
	if d.sup != nil {
		d.sup.Stop(15 * time.Second)
	}
	if d.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = d.srv.Stop(ctx)
	}
}

// collectorLogLines is how much of the collector's log a failure shows.
const collectorLogLines = 15

// printFailureContext shows what the collector was doing when the demo
// failed, and where the whole logs are (or how to keep them).
func (d *demo) printFailureContext() {
	if d.sup != nil {
		path := filepath.Join(d.sup.StorageDir, "agent.log")
		if lines := lastLines(path, collectorLogLines); len(lines) > 0 {
			fmt.Fprintf(d.progress, "the collector's last log lines (%s):\n", path)
			for _, l := range lines {
				fmt.Fprintf(d.progress, "    %s\n", l)
			}
		}
	}
	if d.opts.Dir != "" || d.opts.KeepRunning {
		fmt.Fprintf(d.progress, "the server, supervisor, collector and load logs are in %s\n", d.dir)
		return
	}
	fmt.Fprintln(d.progress, "rerun with --dir DIR to keep the server, supervisor, collector and load logs, e.g.:\n    phoenix demo --dir ./phoenix-demo-logs")
}

// lastLines returns up to n last non-empty lines of a file, nil when it
// cannot be read.
func lastLines(path string, n int) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines[max(0, len(lines)-n):]
}
