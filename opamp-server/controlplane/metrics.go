package controlplane

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/phoenix/platform/opamp-server/auth"
)

// metricsHandler serves the server's own Prometheus metrics. With
// metrics_auth it needs a bearer token whose roles grant auth.PermMetrics;
// Validate refuses metrics_auth without authentication.
func (s *Server) metricsHandler() http.Handler {
	// A metric that cannot be collected (phoenix_agents while the store is
	// down) is logged and left out: the rest, the store errors above all,
	// must stay visible.
	h := promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	})
	if !s.cfg.MetricsAuth {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.auth.Authenticate(r)
		switch {
		case errors.Is(err, auth.ErrUnavailable):
			// An agent credential the store could not look up: not the
			// caller's fault, so no 401 that would read as a bad token.
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		case err != nil:
			w.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
			http.Error(w, err.Error(), http.StatusUnauthorized)
		case !p.Can(auth.PermMetrics):
			http.Error(w, "this token's roles do not allow "+string(auth.PermMetrics), http.StatusForbidden)
		default:
			h.ServeHTTP(w, r)
		}
	})
}
