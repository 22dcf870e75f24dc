package fleetsim // import "github.com/phoenix/platform/cli/fleetsim"

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Transport is how the simulated agents speak OpAMP.
type Transport string

// Transports, as the upstream supervisor offers them.
const (
	// WebSocket keeps one connection per agent; the server pushes at once.
	WebSocket Transport = "ws"
	// HTTP polls once a heartbeat; a push waits for the next poll.
	HTTP Transport = "http"
)

// Identity and behaviour every simulated agent shares.
const (
	// ServiceName is the service.name the agents describe themselves with,
	// the phoenix-collector distribution's.
	ServiceName = "phoenix-collector"
	// FleetLabel is the label (a non-identifying attribute) naming the
	// simulated fleet an agent belongs to: select the fleet with
	// "phoenix.loadsim.fleet=<name>".
	FleetLabel = "phoenix.loadsim.fleet"
)

// Defaults and limits of Options.
const (
	// MaxAgents is the most agents one process simulates.
	MaxAgents = 100_000
	// DefaultFleet names a fleet when Options.Fleet is empty.
	DefaultFleet = "loadsim"
	// DefaultRate is how many agents start (connect) per second.
	DefaultRate = 200
	// DefaultEnrollConcurrency bounds enrollments in flight.
	DefaultEnrollConcurrency = 8
	// DefaultTelemetryConcurrency bounds own-telemetry exports in flight.
	DefaultTelemetryConcurrency = 16
	// DefaultHeartbeat is opamp-go's and the supervisor's heartbeat (and
	// plain HTTP's polling interval).
	DefaultHeartbeat = 30 * time.Second
	// DefaultCandidateShare is the share of the baseline's series a
	// candidate's cost_meter reports: the demo's 85% reduction.
	DefaultCandidateShare = 0.15
	// DefaultServiceVersion is the service.version agents report.
	DefaultServiceVersion = "0.0.0-loadsim"
	// DefaultOpAMPPort and DefaultOpAMPPath make the OpAMP URL derived from
	// the API URL: `phoenix server`'s defaults.
	DefaultOpAMPPort = "4320"
	DefaultOpAMPPath = "/v1/opamp"
)

// Options describe a simulated fleet. The zero value of every field but
// Count, Server and EnrollToken (or Identities) is a sensible default.
type Options struct {
	// Count is how many agents to simulate, 1 to MaxAgents.
	Count int
	// Server is the control plane's API URL (http:// or https://), where
	// agents without an identity enroll.
	Server string
	// OpAMP is the OpAMP endpoint. Default: the API's host, port 4320,
	// path /v1/opamp. Its scheme follows Transport: ws:// and http://, or
	// wss:// and https:// for TLS, name the same endpoint.
	OpAMP string
	// Transport is WebSocket (default) or HTTP.
	Transport Transport
	// EnrollToken enrolls the agents that have no identity yet. It may be
	// empty only when Identities holds an identity for every agent.
	EnrollToken string
	// Identities is a file of identities (JSON lines, one agent each,
	// tokens in clear: mode 0600): read at start, so a second run
	// reconnects the same agents, and extended with every agent enrolled.
	// Empty keeps identities in memory only.
	Identities string
	// Fleet names the fleet: the value of every agent's FleetLabel.
	// Default DefaultFleet.
	Fleet string
	// HostPrefix makes the agents' host.name, "<prefix>-<index>". Default:
	// the fleet's name.
	HostPrefix string
	// Labels are further non-identifying attributes of every agent.
	Labels map[string]string
	// FailShare is the share of agents, in [0, 1], that fail every remote
	// configuration they apply (their collectors are down). Which ones is
	// fixed by index, spread evenly: with 0.2, agents 4, 9, 14, …, exactly
	// a fifth of any prefix.
	FailShare float64
	// ApplyDelay is the longest an apply takes, the collector's restart;
	// each agent takes its own fixed share of it, spread evenly over
	// [0, ApplyDelay). Zero applies at once.
	ApplyDelay time.Duration
	// TelemetryInterval is how often an agent exports its own metrics once
	// the server offered a destination; zero disables own telemetry.
	TelemetryInterval time.Duration
	// Rate is how many agents start per second (enrollment, when needed,
	// comes first). Default DefaultRate.
	Rate float64
	// EnrollConcurrency bounds enrollments in flight. Default
	// DefaultEnrollConcurrency.
	EnrollConcurrency int
	// TelemetryConcurrency bounds own-telemetry exports in flight. Default
	// DefaultTelemetryConcurrency.
	TelemetryConcurrency int
	// Heartbeat is the agents' heartbeat, and plain HTTP's polling
	// interval. Default DefaultHeartbeat.
	Heartbeat time.Duration
	// ServiceVersion is the service.version agents report. Default
	// DefaultServiceVersion.
	ServiceVersion string
	// CandidateShare is the share, in (0, 1], of a baseline cost_meter's
	// series, datapoints, bytes and processes that the agents' other
	// cost_meter processors (a candidate's) report in their own
	// telemetry; every critical process is kept. 1 is no reduction.
	// Default DefaultCandidateShare.
	CandidateShare float64
}

// withDefaults fills the defaults in and derives the OpAMP URL; validate
// first.
func (o Options) withDefaults() Options {
	if o.Transport == "" {
		o.Transport = WebSocket
	}
	if o.Fleet == "" {
		o.Fleet = DefaultFleet
	}
	if o.HostPrefix == "" {
		o.HostPrefix = o.Fleet
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.EnrollConcurrency == 0 {
		o.EnrollConcurrency = DefaultEnrollConcurrency
	}
	if o.TelemetryConcurrency == 0 {
		o.TelemetryConcurrency = DefaultTelemetryConcurrency
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.ServiceVersion == "" {
		o.ServiceVersion = DefaultServiceVersion
	}
	if o.CandidateShare == 0 {
		o.CandidateShare = DefaultCandidateShare
	}
	o.Labels = maps.Clone(o.Labels)
	o.Server = strings.TrimRight(o.Server, "/")
	o.OpAMP, _ = opampURL(o.Server, o.OpAMP, o.Transport)
	return o
}

var (
	nameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,63}$`)
	labelRE = regexp.MustCompile(`^[A-Za-z0-9._/-]{1,128}$`)
)

// reservedLabels are set by the simulator itself.
var reservedLabels = []string{FleetLabel, "host.name", "service.name", "service.version", "service.instance.id", "os.type", "os.description", "host.arch"}

// Validate reports every problem with the options, each naming its
// field as the command line does (count, server, fail-share, …).
func (o Options) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case o.Count <= 0:
		add("count must be at least 1, got %d", o.Count)
	case o.Count > MaxAgents:
		add("count must be at most %d (one process's share of ports and memory), got %d", MaxAgents, o.Count)
	}
	if err := checkURL(o.Server, "http", "https"); err != nil {
		add("server %q: %w", o.Server, err)
	}
	switch o.Transport {
	case "", WebSocket, HTTP:
	default:
		add("transport must be %q or %q, got %q", WebSocket, HTTP, o.Transport)
	}
	if o.OpAMP != "" {
		if err := checkURL(o.OpAMP, "ws", "wss", "http", "https"); err != nil {
			add("opamp %q: %w", o.OpAMP, err)
		}
	}
	if o.Fleet != "" && !nameRE.MatchString(o.Fleet) {
		add("fleet %q: must be 1 to 63 letters, digits, '.', '_' or '-'", o.Fleet)
	}
	if o.HostPrefix != "" && !nameRE.MatchString(o.HostPrefix) {
		add("host-prefix %q: must be 1 to 63 letters, digits, '.', '_' or '-'", o.HostPrefix)
	}
	for _, k := range slices.Sorted(maps.Keys(o.Labels)) {
		v := o.Labels[k]
		switch {
		case !labelRE.MatchString(k):
			add("label %q: a name is 1 to 128 letters, digits, '.', '_', '/' or '-'", k)
		case slices.Contains(reservedLabels, k):
			add("label %q: set by the simulator itself", k)
		case len(v) > 1024 || strings.ContainsAny(v, ",=!~"):
			add("label %s=%q: a value is at most 1024 characters without ',', '=', '!' or '~', so a selector can name it", k, v)
		}
	}
	if math.IsNaN(o.FailShare) || o.FailShare < 0 || o.FailShare > 1 {
		add("fail-share must be within [0, 1], got %v", o.FailShare)
	}
	if o.ApplyDelay < 0 {
		add("apply-delay must not be negative, got %s", o.ApplyDelay)
	}
	if o.TelemetryInterval < 0 {
		add("telemetry-interval must not be negative (0 disables own telemetry), got %s", o.TelemetryInterval)
	} else if o.TelemetryInterval > 0 && o.TelemetryInterval < 100*time.Millisecond {
		add("telemetry-interval must be at least 100ms, got %s", o.TelemetryInterval)
	}
	if math.IsNaN(o.Rate) || math.IsInf(o.Rate, 0) || o.Rate < 0 {
		add("rate must be a positive number of agents per second, got %v", o.Rate)
	}
	if o.EnrollConcurrency < 0 {
		add("enroll-concurrency must be positive, got %d", o.EnrollConcurrency)
	}
	if o.TelemetryConcurrency < 0 {
		add("telemetry-concurrency must be positive, got %d", o.TelemetryConcurrency)
	}
	if o.Heartbeat < 0 || (o.Heartbeat > 0 && o.Heartbeat < 100*time.Millisecond) {
		add("heartbeat must be at least 100ms, got %s", o.Heartbeat)
	}
	if math.IsNaN(o.CandidateShare) || o.CandidateShare < 0 || o.CandidateShare > 1 {
		add("candidate-share must be within (0, 1] (0 takes the default, %g), got %v", DefaultCandidateShare, o.CandidateShare)
	}
	return errors.Join(errs...)
}

// checkURL accepts an absolute URL with one of schemes and a host.
func checkURL(raw string, schemes ...string) error {
	if raw == "" {
		return errors.New("a URL is required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if !slices.Contains(schemes, u.Scheme) {
		return fmt.Errorf("the scheme must be %s", strings.Join(schemes, ", "))
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return fmt.Errorf("bad port %q", p)
		}
	}
	return nil
}

// opampURL is the OpAMP endpoint for transport: the one given, its scheme
// matched to the transport, or else derived from the API URL.
func opampURL(server, opamp string, transport Transport) (string, error) {
	if opamp == "" {
		api, err := url.Parse(server)
		if err != nil {
			return "", err
		}
		u := url.URL{Scheme: api.Scheme, Host: net.JoinHostPort(api.Hostname(), DefaultOpAMPPort), Path: DefaultOpAMPPath}
		opamp = u.String()
	}
	u, err := url.Parse(opamp)
	if err != nil {
		return "", err
	}
	secure := u.Scheme == "https" || u.Scheme == "wss"
	switch {
	case transport == HTTP && secure:
		u.Scheme = "https"
	case transport == HTTP:
		u.Scheme = "http"
	case secure:
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	return u.String(), nil
}
