package fleetsim

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kinds of errors counted in Stats.Errors. Refusals and server errors
// carry the HTTP status or the error type after the kind: "refused 401",
// "server error BadRequest".
const (
	// ErrEnroll: an enrollment failed after its retries (the agent is
	// left out of the run).
	ErrEnroll = "enroll"
	// ErrConnect: the OpAMP endpoint could not be reached (the client
	// retries with backoff).
	ErrConnect = "connect"
	// ErrRefused: the OpAMP endpoint answered a connection or poll with an
	// HTTP error status.
	ErrRefused = "refused"
	// ErrConnectionLost: a WebSocket connection broke (the client
	// reconnects).
	ErrConnectionLost = "connection lost"
	// ErrSend: a message could not be written.
	ErrSend = "send"
	// ErrServer: the server answered a message with an error response.
	ErrServer = "server error"
	// ErrTelemetry: an own-telemetry export failed to reach the server;
	// ErrTelemetryRefused: the server answered it with an error status;
	// ErrTelemetryRejected: it accepted the export but dropped points
	// (OTLP partial success).
	ErrTelemetry         = "telemetry"
	ErrTelemetryRefused  = "telemetry refused"
	ErrTelemetryRejected = "telemetry points rejected"
	// ErrTelemetryBehind: an export was skipped because the exports before
	// it had not finished (raise TelemetryConcurrency, or the interval).
	ErrTelemetryBehind = "telemetry behind"
	// ErrStop: an agent did not disconnect within the stop's time.
	ErrStop = "stop timeout"
	// ErrClient: anything else the opamp-go client reported.
	ErrClient = "client"
)

// Stats are a fleet's counts at one moment.
type Stats struct {
	// Agents is the fleet's size.
	Agents int `json:"agents"`
	// Enrolled counts agents with an identity: Reused of them from the
	// identities file, the rest enrolled by this run.
	Enrolled int `json:"enrolled"`
	Reused   int `json:"reused"`
	// Started counts agents whose OpAMP client runs.
	Started int `json:"started"`
	// Connected counts agents connected now (for plain HTTP: whose last
	// poll was answered); EverConnected those connected at least once.
	Connected     int `json:"connected"`
	EverConnected int `json:"ever_connected"`
	// ConfigsReceived counts remote configurations received that the
	// agent did not run already.
	ConfigsReceived int `json:"configs_received"`
	// Applying, Applied and Failed count agents by where they stand with
	// the latest configuration they received.
	Applying int `json:"applying"`
	Applied  int `json:"applied"`
	Failed   int `json:"failed"`
	// TelemetryExports counts own-telemetry exports the server accepted.
	TelemetryExports int `json:"telemetry_exports"`
	// Errors counts errors by kind (ErrConnect, "refused 401", …), and
	// ErrorExamples holds the first message of each kind.
	Errors        map[string]int    `json:"errors,omitempty"`
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	// Elapsed is the time since Start; Ramped is how long starting every
	// agent took (zero while ramping), AllConnected how long until every
	// agent had connected once (zero until then).
	Elapsed      time.Duration `json:"elapsed"`
	Ramped       time.Duration `json:"ramped,omitempty"`
	AllConnected time.Duration `json:"all_connected,omitempty"`
}

// ErrorCount is the number of errors of every kind.
func (s Stats) ErrorCount() int {
	n := 0
	for _, c := range s.Errors {
		n += c
	}
	return n
}

// Summary is what a run did, for the end of `phoenix loadsim agents` and
// for tests and benchmarks.
type Summary struct {
	// Fleet, Transport and OpAMP say what ran.
	Fleet     string    `json:"fleet"`
	Transport Transport `json:"transport"`
	OpAMP     string    `json:"opamp"`
	// Identities is the identities file, if one was used.
	Identities string `json:"identities,omitempty"`
	// TelemetryInterval is the own-telemetry interval; zero: none.
	TelemetryInterval time.Duration `json:"telemetry_interval"`
	Stats
	// Waves are the pushes of configurations the fleet saw, oldest first
	// (at most the last 16).
	Waves []Wave `json:"waves,omitempty"`
	// Memory is the process's memory while every agent was connected,
	// measured before the agents stopped.
	Memory Memory `json:"memory"`
	// Stopped counts the agents disconnected at the end, and StopTime how
	// long that took.
	Stopped  int           `json:"stopped"`
	StopTime time.Duration `json:"stop_time"`
}

// Wave is one push of configurations to the fleet: the configurations
// received one after another with no pause longer than the wave gap (5 s;
// for plain HTTP, one heartbeat more), whatever their hashes (a pipeline
// renders a configuration of its own for every agent).
type Wave struct {
	// Start is when the first agent received its configuration.
	Start time.Time `json:"start"`
	// Received counts agents that received a configuration in the wave;
	// Applied and Failed those that reported on it (an agent that received
	// another configuration before it finished is in neither).
	Received int `json:"received"`
	Applied  int `json:"applied"`
	Failed   int `json:"failed"`
	// ReceivedP50, ReceivedP99 and ReceivedMax are how long after the
	// wave's start the agents received their configurations: the fan-out
	// time of the server's push.
	ReceivedP50 time.Duration `json:"received_p50"`
	ReceivedP99 time.Duration `json:"received_p99"`
	ReceivedMax time.Duration `json:"received_max"`
}

// Memory is the process's memory use; PerAgent is what each connected
// agent added to the resident set since the fleet started.
type Memory struct {
	RSS         uint64 `json:"rss_bytes"`
	PeakRSS     uint64 `json:"peak_rss_bytes,omitempty"`
	BaselineRSS uint64 `json:"baseline_rss_bytes"`
	PerAgent    uint64 `json:"per_agent_bytes"`
	HeapInuse   uint64 `json:"heap_inuse_bytes"`
	Goroutines  int    `json:"goroutines"`
	// Agents is how many agents the per-agent figure is for.
	Agents int `json:"agents"`
}

// maxWaves bounds the waves a fleet remembers.
const maxWaves = 16

// wave is a Wave being recorded.
type wave struct {
	mu       sync.Mutex
	start    time.Time
	last     time.Time
	received []time.Duration
	applied  int
	failed   int
}

func (w *wave) done(applied bool) {
	if w == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if applied {
		w.applied++
	} else {
		w.failed++
	}
}

func (w *wave) summary() Wave {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := Wave{Start: w.start, Received: len(w.received), Applied: w.applied, Failed: w.failed}
	if len(w.received) > 0 {
		d := slices.Clone(w.received)
		slices.Sort(d)
		s.ReceivedP50, s.ReceivedP99, s.ReceivedMax = quantile(d, 0.50), quantile(d, 0.99), d[len(d)-1]
	}
	return s
}

// quantile is the nearest-rank q-quantile of sorted.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(q*float64(len(sorted))+0.999999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// errorCounts counts errors by kind, keeping the first message of each.
type errorCounts struct {
	mu     sync.Mutex
	counts map[string]int
	firsts map[string]string
}

// maxExample bounds a kept error message.
const maxExample = 300

func (e *errorCounts) add(kind, detail string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counts == nil {
		e.counts, e.firsts = map[string]int{}, map[string]string{}
	}
	e.counts[kind]++
	if _, ok := e.firsts[kind]; !ok {
		if len(detail) > maxExample {
			detail = strings.ToValidUTF8(detail[:maxExample], "") + "…"
		}
		e.firsts[kind] = detail
	}
}

func (e *errorCounts) examples() map[string]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.firsts) == 0 {
		return nil
	}
	return maps.Clone(e.firsts)
}

func (e *errorCounts) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.counts) == 0 {
		return nil
	}
	return maps.Clone(e.counts)
}

// readMemory measures the process: resident set from /proc where there is
// one, else what the Go runtime holds from the system.
func readMemory() Memory {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := Memory{HeapInuse: ms.HeapInuse, Goroutines: runtime.NumGoroutine(), RSS: ms.Sys}
	if rss, peak, ok := procStatus(); ok {
		m.RSS, m.PeakRSS = rss, peak
	}
	return m
}

// procStatus reads VmRSS and VmHWM from /proc/self/status.
func procStatus() (rss, peak uint64, ok bool) {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := sc.Bytes()
		for _, f := range []struct {
			prefix string
			dst    *uint64
		}{{"VmRSS:", &rss}, {"VmHWM:", &peak}} {
			if rest, found := bytes.CutPrefix(line, []byte(f.prefix)); found {
				fields := bytes.Fields(rest)
				if len(fields) > 0 {
					kib, err := strconv.ParseUint(string(fields[0]), 10, 64)
					if err == nil {
						*f.dst = kib << 10
					}
				}
			}
		}
	}
	return rss, peak, rss > 0
}
