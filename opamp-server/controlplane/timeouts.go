package controlplane

import (
	"net/http"
	"time"
)

// Listener timeouts. A client may not hold a connection open by sending
// slowly or not at all. WebSocket agents, which hold their connection for
// hours by design, are bounded only until the upgrade: net/http clears a
// hijacked connection's deadlines (a test holds it to that).
const (
	readHeaderTimeout = 10 * time.Second
	// requestTimeout bounds reading a request and writing its response on
	// both listeners (plain-HTTP OpAMP polls, API calls, own telemetry).
	requestTimeout = 30 * time.Second
	// reportTimeout is the longer write bound of the API listener: an
	// experiment's HTML report embeds every configuration and chart.
	reportTimeout = 2 * time.Minute
	idleTimeout   = 2 * time.Minute
)

// newHTTPServer returns a server with the listener timeouts; writeTimeout
// bounds each response.
func newHTTPServer(h http.Handler, writeTimeout time.Duration) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout, WriteTimeout: writeTimeout,
		ReadTimeout: requestTimeout}
}
