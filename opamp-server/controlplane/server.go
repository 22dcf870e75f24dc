// Package controlplane assembles `phoenix server`: the OpAMP endpoint on one
// listener; the REST API, own-telemetry ingestion, /metrics, /healthz and
// /readyz on another; the store; authentication; and their lifecycle.
package controlplane // import "github.com/phoenix/platform/opamp-server/controlplane"

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/api"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/assignment"
	"github.com/phoenix/platform/opamp-server/auth"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/opamp-server/opamp"
	"github.com/phoenix/platform/opamp-server/owntelemetry"
	"github.com/phoenix/platform/opamp-server/servermetrics"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/opamp-server/store/storeopen"
	"github.com/phoenix/platform/pipelines/distribution"
)

// OpAMPPath is where supervisors connect.
const OpAMPPath = "/v1/opamp"

// Server is a running control plane.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   store.Store
	metrics *servermetrics.Metrics
	agents  *opamp.Server
	exps    *experiments.Controller
	assign  *assignment.Service
	// rollouts steps progressive assignments.
	rollouts *assignment.Rollouts
	auth     *auth.Authenticator
	tokens   auth.Generated
	// presence is this replica's lease on its agents (presence.go).
	presence *presence

	opampLn, apiLn net.Listener
	opampHTTP      *http.Server
	apiHTTP        *http.Server
	ready          bool
	mu             sync.Mutex
	cancel         context.CancelFunc
	wg             sync.WaitGroup
}

// New prepares a server: opens the store, loads tokens and binds both
// listeners, so a port conflict or a locked store fails here, before anything
// runs.
func New(ctx context.Context, cfg Config, logger *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: logger, metrics: servermetrics.New()}
	if err := s.loadAuth(); err != nil {
		return nil, err
	}
	st, err := storeopen.Open(ctx, cfg.storeDSN(), s.log.With("component", "store"))
	if err != nil {
		return nil, fmt.Errorf("opening store: %w", err)
	}
	s.store = store.WithDeadlines(st, cfg.StoreTimeout)
	s.auth = s.auth.WithAgentCredentials(store.CredentialLookup(s.store))
	if err := s.listen(); err != nil {
		_ = st.Close()
		return nil, err
	}
	if err := s.build(); err != nil {
		s.closeListeners()
		_ = st.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) loadAuth() error {
	switch {
	case s.cfg.NoAuth:
		s.log.Warn("authentication is disabled (--no-auth): anyone who can reach the server controls it")
		return nil
	case s.cfg.TokensFile != "":
		a, err := auth.LoadFile(s.cfg.TokensFile)
		if err != nil {
			return fmt.Errorf("loading tokens: %w", err)
		}
		s.auth = a
		return nil
	}
	g, err := auth.EnsureDefault(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("creating default tokens in %s: %w", s.cfg.DataDir, err)
	}
	if g.Created {
		s.log.Info("created default tokens", "admin_token_file", g.AdminToken, "enrollment_token_file", g.EnrollToken)
	}
	s.tokens = g
	a, err := auth.LoadFile(g.TokensFile)
	if err != nil {
		return err
	}
	s.auth = a
	return nil
}

func (s *Server) listen() error {
	var err error
	if s.opampLn, err = net.Listen("tcp", s.cfg.OpAMPListen); err != nil {
		return fmt.Errorf("OpAMP listener %s: %w", s.cfg.OpAMPListen, err)
	}
	if s.apiLn, err = net.Listen("tcp", s.cfg.APIListen); err != nil {
		_ = s.opampLn.Close()
		return fmt.Errorf("API listener %s: %w", s.cfg.APIListen, err)
	}
	if s.cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.opampLn, s.apiLn = tls.NewListener(s.opampLn, tc), tls.NewListener(s.apiLn, tc)
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range []net.Listener{s.opampLn, s.apiLn} {
		if l != nil {
			_ = l.Close()
		}
	}
}

func (s *Server) build() error {
	agents, err := opamp.New(opamp.Settings{
		Store: s.store, Logger: s.log, Metrics: s.metrics, ServerID: s.cfg.ServerID, Auth: s.auth,
		OwnMetricsEndpoint: s.OwnTelemetryURL(),
		HTTPHeartbeat:      s.cfg.HTTPHeartbeat,
		OnNewAgent:         func(ctx context.Context, a apitypes.Agent) { s.assign.AssignDefault(ctx, a.InstanceUID) },
	})
	if err != nil {
		return err
	}
	s.agents = agents
	opampHandler, connContext, err := agents.Handler()
	if err != nil {
		return err
	}
	opampMux := http.NewServeMux()
	opampMux.Handle(OpAMPPath, opampHandler)
	s.opampHTTP = newHTTPServer(opampMux, requestTimeout)
	s.opampHTTP.ConnContext = connContext

	cat, err := newCatalog()
	if err != nil {
		return err
	}
	s.assign, err = assignment.New(assignment.Settings{
		Store: s.store, Catalog: cat, Validate: distribution.ValidateYAML, Pusher: agents, OwnTelemetryURL: s.OwnTelemetryURL(),
		DefaultPipeline: s.cfg.DefaultPipeline, DefaultParameters: s.cfg.DefaultParameters,
		EnvAllowlist: s.cfg.AgentEnvAllowlist, Logger: s.log,
	})
	if err != nil {
		return err
	}
	s.rollouts = assignment.NewRollouts(s.assign, nil)
	prices := analysis.DefaultPrices()
	if s.cfg.PricesFile != "" {
		if prices, err = analysis.LoadPricesFile(s.cfg.PricesFile); err != nil {
			return fmt.Errorf("loading prices: %w", err)
		}
	}
	s.exps, err = experiments.New(experiments.Settings{
		Store: s.store, Catalog: cat, Assignments: s.assign, Analyze: experiments.Analysis(prices), Logger: s.log,
		PriceModels: modelNames(prices),
	})
	if err != nil {
		return err
	}
	expCollector, resultsCollector := newExperimentCollector(s.store, s.log)
	s.metrics.Registry.MustRegister(expCollector, resultsCollector)
	restAPI, err := api.New(api.Settings{
		Store: s.store, Catalog: cat, Assignments: s.assign, Auth: s.auth, Metrics: s.metrics, Logger: s.log,
		Experiments: s.exps, Report: s.report, OnRevoke: agents.Disconnect, Rollouts: s.rollouts,
	})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	restAPI.Register(mux)
	// Own telemetry is held to its limits (owntelemetry.MaxRequestBytes and
	// the rest): points older than the sample retention are dropped on
	// arrival. The OpAMP handler bounds what agents send itself.
	mux.Handle("POST "+owntelemetry.Path, &owntelemetry.Handler{
		Store: s.store, Metrics: s.metrics, Logger: s.log, Retention: s.cfg.SampleRetention, Auth: s.auth,
	})
	s.metrics.Registry.MustRegister(newAgentStateCollector(s.store))
	s.presence = newPresence(s.store, s.cfg, s.log, s.metrics.Registry)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", s.readyz)
	s.apiHTTP = newHTTPServer(mux, reportTimeout)
	return nil
}

func modelNames(t analysis.PriceTable) []string {
	names := make([]string, len(t.Models))
	for i, m := range t.Models {
		names[i] = m.Name
	}
	return names
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if !ready {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	if err := s.store.Ping(ctx); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// Start serves both listeners and runs background work until Stop.
func (s *Server) Start(ctx context.Context) error {
	// Not ended by ctx (a SIGTERM ends it before Stop runs): the lease is
	// held until Stop has drained the agents.
	if err := s.presence.start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(ctx)
	if err := s.agents.Start(ctx); err != nil {
		return err
	}
	for _, srv := range []struct {
		h  *http.Server
		ln net.Listener
	}{{s.opampHTTP, s.opampLn}, {s.apiHTTP, s.apiLn}} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.h.Serve(srv.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("listener failed", "addr", srv.ln.Addr().String(), "error", err)
			}
		}()
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.retainSamples(ctx) }()
	go func() { defer s.wg.Done(); s.exps.Run(ctx) }()
	go func() { defer s.wg.Done(); s.rollouts.Run(ctx) }()
	s.mu.Lock()
	s.ready = true
	s.mu.Unlock()
	s.log.Info("phoenix server started", "opamp", s.OpAMPURL(), "api", s.APIURL(), "store", s.cfg.storeKind(), "server_id", s.cfg.ServerID)
	return nil
}

// Stop shuts the listeners down gracefully and closes the store.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.ready = false
	s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
	// In order: no new agents, every agent connection drained and marked
	// offline, the API, and the store last, so nothing in flight finds it
	// closed.
	var errs []error
	if err := s.opampHTTP.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	errs = append(errs, s.agents.Stop(ctx))
	s.presence.stop(ctx)
	if err := s.apiHTTP.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		errs = append(errs, err)
	}
	// Shutdown closes only listeners that were served: a server stopped
	// without starting, or whose Start failed, still holds its ports.
	s.closeListeners()
	s.wg.Wait()
	errs = append(errs, s.store.Close())
	return errors.Join(errs...)
}

// retainSamples drops own-telemetry samples older than the retention, and
// agents offline for longer than theirs: an agent that comes back later
// enrolls as a new one.
func (s *Server) retainSamples(ctx context.Context) {
	tick := time.NewTicker(time.Hour)
	defer tick.Stop()
	for {
		if err := s.store.DeleteSamplesBefore(ctx, time.Now().Add(-s.cfg.SampleRetention)); err != nil && ctx.Err() == nil {
			s.log.Warn("sample retention failed", "error", err)
		}
		removed, err := s.store.DeleteAgentsOfflineSince(ctx, time.Now().Add(-s.cfg.AgentRetention))
		if err != nil && ctx.Err() == nil {
			s.log.Warn("agent retention failed", "error", err)
		}
		if len(removed) > 0 {
			s.log.Info("removed agents offline past the retention", "agents", len(removed), "retention", s.cfg.AgentRetention)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Experiments returns the experiment controller.
func (s *Server) Experiments() *experiments.Controller { return s.exps }

// Store returns the server's store (for the experiment controller and tests).
func (s *Server) Store() store.Store { return s.store }

// Tokens reports where the generated default tokens are, when used.
func (s *Server) Tokens() auth.Generated { return s.tokens }

func (s *Server) scheme() string {
	if s.cfg.TLSCertFile != "" {
		return "https"
	}
	return "http"
}

// APIURL is the base URL of the API listener.
func (s *Server) APIURL() string { return s.scheme() + "://" + advertised(s.apiLn.Addr()) }

// OpAMPURL is the WebSocket URL supervisors connect to.
func (s *Server) OpAMPURL() string {
	scheme := "ws"
	if s.cfg.TLSCertFile != "" {
		scheme = "wss"
	}
	return scheme + "://" + advertised(s.opampLn.Addr()) + OpAMPPath
}

// OwnTelemetryURL is the OTLP/HTTP metrics URL collectors push to.
func (s *Server) OwnTelemetryURL() string {
	base := strings.TrimRight(s.cfg.PublicURL, "/")
	if base == "" {
		base = s.APIURL()
	}
	return base + owntelemetry.Path
}

// advertised turns a listen address into one a local client can dial.
func advertised(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// defaultDataDir is where the embedded store and default tokens live.
func defaultDataDir() string {
	if dir := os.Getenv("STATE_DIRECTORY"); dir != "" { // systemd's StateDirectory=
		return dir
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "phoenix")
	}
	return filepath.Join(os.TempDir(), "phoenix")
}
