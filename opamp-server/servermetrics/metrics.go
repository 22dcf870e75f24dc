// Package servermetrics defines the control plane's own Prometheus metrics,
// served on /metrics. Every metric lives here, so dashboards and recording
// rules have one place to check names against.
package servermetrics // import "github.com/phoenix/platform/opamp-server/servermetrics"

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds the server's instruments, registered on their own registry.
type Metrics struct {
	Registry *prometheus.Registry

	// AgentsConnected counts agents with a live connection to this replica,
	// by transport ("websocket", "http").
	AgentsConnected *prometheus.GaugeVec
	// OpAMPMessages counts agent messages by kind of content.
	OpAMPMessages *prometheus.CounterVec
	// OpAMPErrors counts protocol errors by stage (read, send, handle).
	OpAMPErrors *prometheus.CounterVec
	// ConfigPushes counts remote configurations sent to agents.
	ConfigPushes prometheus.Counter
	// ConfigOutcomes counts remote-config statuses agents reported
	// (APPLIED, APPLYING, FAILED).
	ConfigOutcomes *prometheus.CounterVec
	// ConfigApplyRetries counts configurations planned to be sent again
	// because the supervisor's apply timeout was their only failure.
	ConfigApplyRetries prometheus.Counter
	// ConfigRejected counts assignments refused by validation.
	ConfigRejected prometheus.Counter
	// OwnTelemetrySamples counts own-telemetry samples stored.
	OwnTelemetrySamples prometheus.Counter
	// AgentInputRejected counts agent input refused or cut by the limits on
	// agent input, by source (Source*) and reason (Reason*): requests and
	// messages for the OpAMP endpoint, data points for own telemetry.
	// Count through RejectInput, which also logs.
	AgentInputRejected *prometheus.CounterVec
	// AgentAuthRefused counts OpAMP connections and messages and
	// own-telemetry requests refused for their credential, by source and
	// reason (Auth*). Count through RefuseAgent, which also logs.
	AgentAuthRefused *prometheus.CounterVec
	// APIRequestDuration observes REST API latency by route, method and code.
	APIRequestDuration *prometheus.HistogramVec

	rejectLog rejectLog
}

// New creates and registers the server's metrics, plus the Go runtime and
// process collectors.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		AgentsConnected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "phoenix_agents_connected", Help: "Agents with a live OpAMP connection to this replica, by transport.",
		}, []string{"transport"}),
		OpAMPMessages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoenix_opamp_messages_total", Help: "OpAMP messages received from agents, by content.",
		}, []string{"kind"}),
		OpAMPErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoenix_opamp_errors_total", Help: "OpAMP protocol errors, by stage.",
		}, []string{"stage"}),
		ConfigPushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_config_pushes_total", Help: "Remote configurations sent to agents.",
		}),
		ConfigOutcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoenix_config_outcomes_total", Help: "Remote configuration statuses reported by agents.",
		}, []string{"status"}),
		ConfigApplyRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_config_apply_retries_total", Help: "Configurations to be sent again after the supervisor's apply timeout.",
		}),
		ConfigRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_config_rejected_total", Help: "Configurations refused by validation before anything was sent.",
		}),
		OwnTelemetrySamples: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "phoenix_own_telemetry_samples_total", Help: "Collector own-telemetry samples stored.",
		}),
		AgentInputRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoenix_agent_input_rejected_total",
			Help: "Agent input refused or cut by the limits on agent input, by source and reason.",
		}, []string{"source", "reason"}),
		AgentAuthRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "phoenix_agent_auth_refused_total",
			Help: "Agent requests and messages refused for their credential, by source and reason.",
		}, []string{"source", "reason"}),
		APIRequestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "phoenix_api_request_duration_seconds", Help: "REST API request latency.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
	}
	// Known label values start at zero, so rate() and increase() see the
	// first event instead of a series that appears already counted.
	for _, status := range []string{"APPLIED", "APPLYING", "FAILED"} {
		m.ConfigOutcomes.WithLabelValues(status)
	}
	for _, stage := range []string{"auth", "read", "send", "handle", "store"} {
		m.OpAMPErrors.WithLabelValues(stage)
	}
	for _, transport := range []string{"websocket", "http"} {
		m.AgentsConnected.WithLabelValues(transport)
	}
	for _, source := range []string{SourceOpAMP, SourceOwnTelemetry} {
		for _, reason := range authRefusalReasons {
			m.AgentAuthRefused.WithLabelValues(source, reason)
		}
	}
	for source, reasons := range inputRejectionReasons {
		for _, reason := range reasons {
			m.AgentInputRejected.WithLabelValues(source, reason)
		}
	}
	reg.MustRegister(m.AgentsConnected, m.OpAMPMessages, m.OpAMPErrors, m.ConfigPushes, m.ConfigOutcomes,
		m.ConfigApplyRetries, m.ConfigRejected, m.OwnTelemetrySamples, m.AgentInputRejected, m.AgentAuthRefused, m.APIRequestDuration,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
