package loadsim // import "github.com/phoenix/platform/cli/cmd/loadsim"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/phoenix/platform/cli/agentidentity"
	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/cli/fleetsim"
)

// AgentsOptions are the inputs of `phoenix loadsim agents`.
type AgentsOptions struct {
	IO *cmdutil.IOStreams
	// Sim are the fleet's options; its Server, Transport, EnrollToken and
	// Labels are filled from the fields below when the command runs.
	Sim fleetsim.Options
	// Server is --server as given (else PHOENIX_SERVER, else the local
	// server).
	Server string
	// Transport is --transport: ws or http.
	Transport string
	// EnrollTokenFile is --enroll-token-file.
	EnrollTokenFile string
	// Labels are the --label flags, key=value each.
	Labels []string
	// Duration ends the run; zero runs until interrupted.
	Duration time.Duration
	// Output is the summary's format.
	Output cmdutil.Format
	// ProgressEvery is how often progress is printed to a stderr that is
	// not a terminal (a terminal's line is redrawn every second).
	ProgressEvery time.Duration
}

// NewCmdAgents returns `phoenix loadsim agents`. runF, when not nil, runs
// instead of runAgents.
func NewCmdAgents(ios *cmdutil.IOStreams, runF func(context.Context, *AgentsOptions) error) *cobra.Command {
	opts := &AgentsOptions{IO: ios, ProgressEvery: 10 * time.Second}
	cmd := &cobra.Command{
		Use:   "agents",
		Short: "Simulate a fleet of agents against a control plane",
		Long: `Run --count OpAMP agents in this one process, each behaving towards the
server as the upstream supervisor with its collector does, to see what a
fleet of that size does to the control plane.

Each agent enrolls for an identity of its own with the enrollment token
(POST /api/v1/agents/enroll) and connects with it: its instance UID and a
Bearer credential. --identities keeps the identities in a file (JSON lines,
tokens in clear, mode 0600), so a second run reconnects the same agents
instead of enrolling new ones. Agents start --rate a second.

What an agent does, like the supervisor:
  - describes itself: service.name=phoenix-collector, host.name=<prefix>-<n>,
    the label phoenix.loadsim.fleet=<fleet> and every --label;
  - on a remote configuration reports APPLYING, then after its share of
    --apply-delay (the collector's restart) APPLIED with the configuration as
    its effective config and healthy, or, for the --fail-share of agents
    (every 1/share-th by index, so the same ones on every run), FAILED with
    a collector error, its collector down (unhealthy, no own telemetry);
  - re-sent the configuration it runs, reports APPLIED without a restart;
  - heartbeats every --heartbeat (plain HTTP polls at that interval);
  - once the server offers an own-telemetry destination, exports its
    collector's otelcol_process_* metrics there every --telemetry-interval,
    with its credential. Exports are spread over the interval. While it runs
    a configuration with cost_meter processors (an experiment's: paired runs
    baseline and candidate, split one of them), they come with the
    otelcol_processor_cost_meter_* figures of each processor's variant, for
    a host of 100 to 400 processes (fixed per agent): a baseline counts
    every process, any other variant --candidate-share of the series,
    datapoints and bytes and every critical process, so an experiment's
    analysis reaches a verdict.

Progress goes to stderr every second (every 10 s, and only when it changed,
when stderr is not a terminal); at the end, after --duration or on Ctrl-C,
every agent disconnects and a summary goes to stdout: connections, each push
wave's fan-out time (p50/p99 after the first agent received it), applies and
failures, errors by kind, and the memory each agent cost.

The enrollment token comes from --enroll-token-file, else the environment
variable PHOENIX_ENROLL_TOKEN, else, for a server on this host, the local
server's enroll.token. With --identities holding every agent, none is needed.

Select the fleet with its label, for example to assign it a pipeline:
  phoenix config assign -l phoenix.loadsim.fleet=loadsim --pipeline baseline`,
		Example: `  phoenix loadsim agents --count 1000 --duration 5m
  phoenix loadsim agents --count 10000 --identities fleet.jsonl --fail-share 0.05 --label env=bench
  phoenix loadsim agents --count 200 --transport http --heartbeat 5s -o json
  phoenix loadsim agents --server https://phoenix.example.com --enroll-token-file enroll.token --count 500 --rate 50`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runAgents(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.IntVar(&opts.Sim.Count, "count", 100, fmt.Sprintf("agents to simulate, 1 to %d", fleetsim.MaxAgents))
	f.StringVar(&opts.Server, "server", "", "server API URL, where agents enroll (env "+cmdutil.EnvServer+", default "+cmdutil.DefaultServer+")")
	f.StringVar(&opts.Sim.OpAMP, "opamp", "", "OpAMP URL (default: the server's host, port "+fleetsim.DefaultOpAMPPort+", "+fleetsim.DefaultOpAMPPath+"); its scheme follows --transport")
	f.StringVar(&opts.Transport, "transport", string(fleetsim.WebSocket), "OpAMP transport: ws (WebSocket) or http (plain HTTP polling)")
	f.StringVar(&opts.EnrollTokenFile, "enroll-token-file", "", "file holding the enrollment token (env "+agentidentity.EnvEnrollToken+", default: a local server's enroll.token)")
	f.StringVar(&opts.Sim.Identities, "identities", "", "file of agent identities (JSON lines) to reuse and extend, so runs keep the same agents")
	f.StringVar(&opts.Sim.Fleet, "fleet", fleetsim.DefaultFleet, "fleet name: the agents' "+fleetsim.FleetLabel+" label")
	f.StringVar(&opts.Sim.HostPrefix, "host-prefix", "", "agents' host.name is <prefix>-<n> (default: the fleet name)")
	f.StringArrayVarP(&opts.Labels, "label", "l", nil, "further label of every agent, key=value (repeatable)")
	f.Float64Var(&opts.Sim.FailShare, "fail-share", 0, "share of agents, 0 to 1, that fail every configuration (the same agents every run)")
	f.DurationVar(&opts.Sim.ApplyDelay, "apply-delay", time.Second, "longest an apply takes; agents spread evenly below it (0: at once)")
	f.DurationVar(&opts.Sim.TelemetryInterval, "telemetry-interval", time.Minute, "own-metrics export interval once the server offers a destination (0: none)")
	f.Float64Var(&opts.Sim.CandidateShare, "candidate-share", fleetsim.DefaultCandidateShare,
		"share, above 0 and up to 1, of a baseline cost_meter's series, datapoints and bytes that other variants' report (1: no reduction)")
	f.IntVar(&opts.Sim.TelemetryConcurrency, "telemetry-concurrency", fleetsim.DefaultTelemetryConcurrency, "own-metrics exports in flight at once")
	f.Float64Var(&opts.Sim.Rate, "rate", fleetsim.DefaultRate, "agents started (connected) per second")
	f.IntVar(&opts.Sim.EnrollConcurrency, "enroll-concurrency", fleetsim.DefaultEnrollConcurrency, "enrollments in flight at once")
	f.DurationVar(&opts.Sim.Heartbeat, "heartbeat", fleetsim.DefaultHeartbeat, "heartbeat interval (plain HTTP: the polling interval)")
	f.DurationVar(&opts.Duration, "duration", 0, "how long to run (default: until interrupted)")
	cmdutil.AddFormatFlag(cmd, &opts.Output)
	return cmd
}

// fleetOptions completes the fleet's options from the flags.
func fleetOptions(opts *AgentsOptions) (fleetsim.Options, error) {
	o := opts.Sim
	o.Server = (&cmdutil.ClientOptions{Server: opts.Server}).ServerURL()
	o.Transport = fleetsim.Transport(opts.Transport)
	o.Labels = map[string]string{}
	for _, l := range opts.Labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return o, fmt.Errorf("--label %q: want key=value", l)
		}
		if _, dup := o.Labels[k]; dup {
			return o, fmt.Errorf("--label %q: %s given twice", l, k)
		}
		o.Labels[k] = v
	}
	if opts.Duration < 0 {
		return o, fmt.Errorf("--duration must not be negative, got %s", opts.Duration)
	}
	if err := o.Validate(); err != nil {
		return o, err
	}
	token, err := cmdutil.EnrollToken(opts.EnrollTokenFile, o.Server)
	if err != nil {
		return o, err
	}
	o.EnrollToken = token
	return o, nil
}

// stopTimeout bounds the agents' disconnection at the end.
const stopTimeout = 15 * time.Second

// runAgents runs the fleet until the duration ends, ctx is cancelled (a
// signal) or the fleet fails, then stops every agent and prints the
// summary. Stopped by a signal, it returns a cmdutil.ExitError with the
// signal's conventional status.
func runAgents(ctx context.Context, opts *AgentsOptions) error {
	o, err := fleetOptions(opts)
	if err != nil {
		return err
	}
	fleet, err := fleetsim.Start(ctx, o)
	if errors.Is(err, fleetsim.ErrEnrollTokenNeeded) {
		return fmt.Errorf("%w: give --enroll-token-file (or %s)", err, agentidentity.EnvEnrollToken)
	}
	if err != nil {
		return err
	}
	o = fleet.Options()
	fmt.Fprintf(opts.IO.ErrOut, "loadsim: %d agents of fleet %s over %s to %s, %g a second\n",
		o.Count, o.Fleet, transportName(o.Transport), o.OpAMP, o.Rate)

	var timeout <-chan time.Time
	if opts.Duration > 0 {
		timer := time.NewTimer(opts.Duration)
		defer timer.Stop()
		timeout = timer.C
	}
	p := newProgress(opts.IO.ErrOut, opts.ProgressEvery)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	ramped := fleet.Ramped()
	ended := "the duration ended"
wait:
	for {
		select {
		case <-ctx.Done():
			ended = interruption(ctx)
			break wait
		case <-timeout:
			break wait
		case <-fleet.Failed():
			ended = "failed"
			break wait
		case <-ramped:
			ramped = nil
			p.show(fleet.Stats(), true)
		case <-tick.C:
			p.show(fleet.Stats(), false)
		}
	}
	p.done()
	fmt.Fprintf(opts.IO.ErrOut, "loadsim: %s; disconnecting %d agents\n", ended, fleet.Stats().Started)

	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
	defer cancel()
	summary, fleetErr := fleet.Stop(stopCtx)
	if err := writeSummary(opts.IO.Out, opts.Output, summary, ended); err != nil {
		return err
	}
	if fleetErr != nil {
		return fleetErr
	}
	return cmdutil.Interrupted(ctx)
}

func interruption(ctx context.Context) string {
	switch sig := cmdutil.Signal(ctx); sig {
	case nil:
		return "interrupted"
	case syscall.SIGINT:
		return "stopped by SIGINT"
	case syscall.SIGTERM:
		return "stopped by SIGTERM"
	default:
		return "stopped by " + sig.String()
	}
}

func transportName(t fleetsim.Transport) string {
	if t == fleetsim.HTTP {
		return "plain HTTP"
	}
	return "WebSocket"
}

// progress prints the fleet's counts to stderr: a line redrawn every
// second on a terminal; elsewhere a line every so often, and only when the
// counts changed, so a log stays short.
type progress struct {
	w     io.Writer
	tty   bool
	every time.Duration
	last  time.Time
	shown string
}

func newProgress(w io.Writer, every time.Duration) *progress {
	return &progress{w: w, tty: cmdutil.IsTerminal(w), every: every}
}

func (p *progress) show(s fleetsim.Stats, force bool) {
	counts := progressCounts(s)
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[Kloadsim: %s %s", s.Elapsed.Round(time.Second), counts)
		p.shown = counts
		return
	}
	if counts == p.shown || (!force && time.Since(p.last) < p.every) {
		return
	}
	fmt.Fprintf(p.w, "loadsim: %s %s\n", s.Elapsed.Round(time.Second), counts)
	p.shown, p.last = counts, time.Now()
}

// done ends a terminal's progress line.
func (p *progress) done() {
	if p.tty && p.shown != "" {
		fmt.Fprintln(p.w)
	}
}

func progressCounts(s fleetsim.Stats) string {
	line := fmt.Sprintf("enrolled %d/%d, connected %d, applying %d, applied %d, failed %d",
		s.Enrolled, s.Agents, s.Connected, s.Applying, s.Applied, s.Failed)
	if n := s.ErrorCount(); n > 0 {
		line += fmt.Sprintf(", %d errors", n)
	}
	if s.Ramped == 0 {
		line += " (starting)"
	}
	return line
}

// agentsSummary is the summary as -o json and yaml print it.
type agentsSummary struct {
	// Ended says why the run ended.
	Ended string `json:"ended"`
	fleetsim.Summary
}

func writeSummary(w io.Writer, format cmdutil.Format, s fleetsim.Summary, ended string) error {
	if format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(w, format, agentsSummary{Ended: ended, Summary: s})
	}
	row := func(k, format string, args ...any) { fmt.Fprintf(w, "%-14s %s\n", k, fmt.Sprintf(format, args...)) }
	row("Fleet", "%s: %d agents over %s to %s", s.Fleet, s.Agents, transportName(s.Transport), s.OpAMP)
	row("Ended", "%s after %s", ended, s.Elapsed.Round(time.Millisecond))
	enrolled := fmt.Sprintf("%d (%d new", s.Enrolled, s.Enrolled-s.Reused)
	if s.Identities != "" {
		enrolled += fmt.Sprintf(", %d from %s", s.Reused, s.Identities)
	}
	row("Enrolled", "%s)", enrolled)
	connected := fmt.Sprintf("%d of %d started at the end", s.Connected, s.Started)
	switch {
	case s.AllConnected > 0:
		connected += fmt.Sprintf("; all had connected %s after the start", s.AllConnected.Round(time.Millisecond))
	default:
		connected += fmt.Sprintf("; %d had connected at least once", s.EverConnected)
	}
	if s.Ramped > 0 {
		connected += fmt.Sprintf(" (ramp %s)", s.Ramped.Round(time.Millisecond))
	}
	row("Connected", "%s", connected)
	row("Configs", "%d received: %d applied, %d failed, %d applying at the end", s.ConfigsReceived, s.Applied, s.Failed, s.Applying)
	for i, wv := range s.Waves {
		row(fmt.Sprintf("  push %d", i+1), "%s: %d received within p50 %s, p99 %s, max %s of the first; %d applied, %d failed",
			wv.Start.Local().Format("15:04:05"), wv.Received, wv.ReceivedP50.Round(time.Millisecond),
			wv.ReceivedP99.Round(time.Millisecond), wv.ReceivedMax.Round(time.Millisecond), wv.Applied, wv.Failed)
	}
	if s.TelemetryInterval > 0 {
		row("Own telemetry", "%d exports accepted (every %s)", s.TelemetryExports, s.TelemetryInterval)
	} else {
		row("Own telemetry", "off")
	}
	if len(s.Errors) == 0 {
		row("Errors", "none")
	} else {
		row("Errors", "%d", s.ErrorCount())
		for _, k := range slices.Sorted(maps.Keys(s.Errors)) {
			row("  "+k, "%d (first: %s)", s.Errors[k], s.ErrorExamples[k])
		}
	}
	m := s.Memory
	row("Memory", "RSS %s (peak %s, %s before the agents): %s per agent over %d agents; Go heap %s, %d goroutines",
		mib(m.RSS), mib(m.PeakRSS), mib(m.BaselineRSS), kib(m.PerAgent), m.Agents, mib(m.HeapInuse), m.Goroutines)
	row("Stopped", "%d agents disconnected in %s", s.Stopped, s.StopTime.Round(time.Millisecond))
	return nil
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
func kib(b uint64) string { return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10)) }
