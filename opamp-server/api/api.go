// Package api is the control plane's REST API under /api/v1: agents, the
// pipelines catalog, configuration assignment and experiments. Every route is
// declared once in a table that drives the mux, authorisation and the
// OpenAPI document's consistency test.
package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
)

// Settings wire the API to the rest of the server.
type Settings struct {
	Store store.Store
	// Catalog describes the pipelines; Assignments renders, validates and
	// stores every configuration.
	Catalog     *catalog.Catalog
	Assignments *assignment.Service
	// Auth authenticates callers; nil disables authentication.
	Auth    *auth.Authenticator
	Metrics *servermetrics.Metrics
	Logger  *slog.Logger
	// Experiments serves the /experiments routes and Report their HTML
	// reports; nil leaves the routes out.
	Experiments *experiments.Controller
	Report      ReportFunc
	// Rollouts serves progressive assignments (POST /assignments with
	// waves, /rollouts); nil refuses waves and leaves the routes out.
	Rollouts *assignment.Rollouts
	// OnRevoke is called after an agent's credential is revoked or the
	// agent deleted: the OpAMP endpoint closes its connection. Nil does
	// nothing.
	OnRevoke func(uid string)
	// RotationGrace is how long a rotated-out token keeps working; 0 means
	// DefaultRotationGrace.
	RotationGrace time.Duration
}

// API serves the REST API.
type API struct {
	set    Settings
	routes []route
}

type route struct {
	method  string
	pattern string // path below Prefix, in net/http pattern syntax
	perm    auth.Permission
	handler http.HandlerFunc
}

// New creates the API.
func New(set Settings) (*API, error) {
	if set.Store == nil || set.Catalog == nil || set.Assignments == nil || set.Metrics == nil {
		return nil, errors.New("api: Store, Catalog, Assignments and Metrics are required")
	}
	if set.Logger == nil {
		set.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{set: set}
	a.routes = []route{
		{http.MethodGet, "/agents", auth.PermRead, a.listAgents},
		{http.MethodGet, "/agents/summary", auth.PermRead, a.agentSummary},
		{http.MethodGet, "/agents/{uid}", auth.PermRead, a.getAgent},
		{http.MethodDelete, "/agents/{uid}", auth.PermAdminister, a.deleteAgent},
		{http.MethodGet, "/agents/{uid}/metrics", auth.PermRead, a.agentMetrics},
		{http.MethodPut, "/agents/{uid}/config", auth.PermConfigure, a.assignAgent},
		{http.MethodDelete, "/agents/{uid}/config", auth.PermConfigure, a.unassignAgent},
		{http.MethodPost, "/assignments", auth.PermConfigure, a.assignMany},
		{http.MethodGet, "/pipelines", auth.PermRead, a.listPipelines},
		{http.MethodGet, "/pipelines/{name}", auth.PermRead, a.getPipeline},
		{http.MethodPost, "/pipelines/{name}/render", auth.PermRead, a.renderPipeline},
		{http.MethodPost, "/pipelines/validate", auth.PermRead, a.validateConfig},
	}
	a.routes = append(a.routes, a.identityRoutes()...)
	if set.Rollouts != nil {
		a.routes = append(a.routes, a.rolloutRoutes()...)
	}
	if set.Experiments != nil {
		if set.Report == nil {
			return nil, errors.New("api: Report is required with Experiments")
		}
		a.routes = append(a.routes, a.experimentRoutes()...)
	}
	return a, nil
}

// Register mounts every route, and the OpenAPI document, on mux.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range a.routes {
		pattern := rt.method + " " + apitypes.Prefix + rt.pattern
		mux.Handle(pattern, a.wrap(rt, rt.handler))
	}
	mux.Handle("GET "+apitypes.Prefix+"/openapi.json", a.wrap(route{pattern: "/openapi.json"}, serveOpenAPI))
}

// Routes lists "METHOD /path" for every route, for the OpenAPI check.
func (a *API) Routes() []string {
	out := make([]string, 0, len(a.routes))
	for _, rt := range a.routes {
		out = append(out, rt.method+" "+apitypes.Prefix+rt.pattern)
	}
	return out
}

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyPrincipal
	keyLogger
)

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// principal returns the authenticated caller's name, or "anonymous".
func principal(ctx context.Context) string {
	if p, ok := ctx.Value(keyPrincipal).(auth.Principal); ok {
		return p.Name
	}
	return "anonymous"
}

// wrap adds a request ID, authentication and authorisation, panic recovery
// and the latency metric to a handler.
func (a *API) wrap(rt route, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		id := r.Header.Get("X-Request-ID")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		rec.Header().Set("X-Request-ID", id)
		ctx := context.WithValue(r.Context(), keyRequestID, id)
		ctx = context.WithValue(ctx, keyLogger, a.set.Logger)
		defer func() {
			if p := recover(); p != nil {
				a.set.Logger.Error("api handler panicked", "route", rt.pattern, "panic", p, "request_id", id)
				fail(rec, http.StatusInternalServerError, apitypes.CodeInternal, "internal error", nil)
			}
			a.set.Metrics.APIRequestDuration.WithLabelValues(rt.pattern, r.Method, strconv.Itoa(rec.status)).
				Observe(time.Since(start).Seconds())
		}()
		if rt.perm != "" && a.set.Auth != nil {
			p, err := a.set.Auth.Authenticate(r)
			if errors.Is(err, auth.ErrUnavailable) {
				a.set.Logger.Error("checking a credential failed", "route", rt.pattern, "error", err, "request_id", id)
				fail(rec, http.StatusServiceUnavailable, apitypes.CodeUnavailable, "credentials cannot be checked now", nil)
				return
			}
			if err != nil {
				rec.Header().Set("WWW-Authenticate", `Bearer realm="phoenix"`)
				fail(rec, http.StatusUnauthorized, apitypes.CodeUnauthorized, err.Error(), nil)
				return
			}
			if !p.Can(rt.perm) {
				fail(rec, http.StatusForbidden, apitypes.CodeForbidden, "this token's roles do not allow "+string(rt.perm), nil)
				return
			}
			ctx = context.WithValue(ctx, keyPrincipal, p)
		}
		h(rec, r.WithContext(ctx))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
