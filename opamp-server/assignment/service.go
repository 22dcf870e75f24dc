// Package assignment owns what each agent is told to run: it renders a
// catalog pipeline with the agent's own parameters (or takes a complete
// configuration), validates it, stores it, tells the agent, and judges
// whether the agent runs it (Drift). The REST API, the default pipeline for
// new agents and the experiment controller all assign through it.
package assignment // import "github.com/phoenix/platform/opamp-server/assignment"

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/selector"
	"github.com/phoenix/platform/opamp-server/store"
	"github.com/phoenix/platform/pipelines/catalog"
)

// ErrRequest marks a request that cannot be rendered as asked (both or
// neither of pipeline and config, an empty or malformed selector).
var ErrRequest = errors.New("invalid assignment request")

// ErrNoMatch is returned when a selector matches no agent.
var ErrNoMatch = errors.New("no agent matches")

// renderFailure marks an error of rendering or validating a configuration,
// as opposed to one of storing it, without changing its message.
type renderFailure struct{ err error }

func (e renderFailure) Error() string { return e.err.Error() }
func (e renderFailure) Unwrap() error { return e.err }

// IsRenderFailure reports whether err is a configuration that could not be
// rendered or did not validate (the caller's to fix) rather than a store
// failure.
func IsRenderFailure(err error) bool {
	var r renderFailure
	return errors.As(err, &r)
}

// Pusher sends an agent its current assignment without waiting for its next
// message (the OpAMP server).
type Pusher interface {
	Push(ctx context.Context, instanceUID string) error
}

// Settings wire the service to the rest of the server.
type Settings struct {
	Store   store.Store
	Catalog *catalog.Catalog
	// Validate checks a configuration given verbatim, as the collector
	// would at startup (the catalog validates what it renders itself).
	Validate catalog.Validator
	// Pusher, when set, is told of every stored assignment; agents also
	// get it on their next message without it.
	Pusher Pusher
	// OwnTelemetryURL is where collectors report their own telemetry.
	OwnTelemetryURL string
	// DefaultPipeline, when set, is assigned (with DefaultParameters) to
	// every new agent that has no assignment.
	DefaultPipeline   string
	DefaultParameters map[string]any
	// EnvAllowlist holds path.Match patterns of the environment variables
	// a caller without Grants.HostAccess may name, through a catalog
	// parameter marked env_var or in a verbatim configuration, beside
	// those the catalog's own configurations reference. Nil allows only
	// those. The server's default is DefaultEnvAllowlist.
	EnvAllowlist []string
	Logger       *slog.Logger
}

// Service assigns configurations. It is safe for concurrent use.
type Service struct {
	set Settings
	log *slog.Logger
	// catalogEnv holds the environment variables the catalog's own
	// configurations reference (catalogEnvNames), found once, when first
	// needed.
	catalogEnv func() map[string]bool
	// renders holds renderings by parameters, the instance UID aside.
	renders renderCache
}

// New returns a service; the default pipeline, when set, must exist.
func New(set Settings) (*Service, error) {
	if set.Store == nil || set.Catalog == nil || set.Validate == nil {
		return nil, errors.New("assignment: Store, Catalog and Validate are required")
	}
	if set.DefaultPipeline != "" {
		if _, err := set.Catalog.Get(set.DefaultPipeline); err != nil {
			return nil, fmt.Errorf("default_pipeline: %w", err)
		}
	}
	if err := CheckEnvAllowlist(set.EnvAllowlist); err != nil {
		return nil, fmt.Errorf("agent_env_allowlist: %w", err)
	}
	log := set.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svc := &Service{set: set, log: log}
	svc.catalogEnv = sync.OnceValue(svc.catalogEnvNames)
	return svc, nil
}

// AgentParams are the parameters every configuration rendered for the agent
// gets unless the caller sets them: the collector reports its own telemetry
// to this server as itself, plus what the agent's phoenix.param.* labels ask
// for, which never replace the server's own. Rendering keeps of the labels'
// only the parameters the catalog marks agent_settable.
func (s *Service) AgentParams(ctx context.Context, uid string) map[string]any {
	var labels map[string]string
	if a, err := s.set.Store.GetAgent(ctx, uid); err == nil {
		labels = a.Labels
	}
	return s.paramsOf(uid, labels)
}

// paramsOf is AgentParams for an agent whose labels are at hand.
func (s *Service) paramsOf(uid string, labels map[string]string) map[string]any {
	params := s.serverParams(uid)
	for k, v := range labels {
		name, ok := strings.CutPrefix(k, apitypes.AgentParamLabelPrefix)
		if _, theServers := params[name]; ok && name != "" && !theServers {
			params[name] = labelValue(v)
		}
	}
	return params
}

// serverParams are the parameters the server gives every agent's
// configurations: the collector reports its own telemetry to this server as
// itself, with its own credential from its environment. They are the
// server's alone: no caller, experiment or label sets them, since whoever
// chose telemetry_endpoint would receive every agent's credential.
func (s *Service) serverParams(uid string) map[string]any {
	return map[string]any{"instance_id": uid, "telemetry_endpoint": s.set.OwnTelemetryURL, "telemetry_token_env": apitypes.AgentTokenEnv}
}

// serverOwned lists, sorted, the server's own parameters (serverParams)
// among params.
func (s *Service) serverOwned(params map[string]any) []string {
	var out []string
	for k := range s.serverParams("") {
		if _, given := params[k]; given {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// labelValue reads a label as a YAML scalar, as `--param` values are read:
// "400" is a number, "true" a boolean; anything else stays a string.
func labelValue(s string) any {
	var v any
	if err := yaml.Unmarshal([]byte(s), &v); err != nil || v == nil {
		return s
	}
	switch v.(type) {
	case int, float64, bool:
		return v
	}
	return s
}

// withAgentParams adds the per-agent parameters that params does not set
// and the pipeline declares as collector parameters: they describe where and
// how the collector runs, while a pipeline's processor (variant) parameters
// are always the assigner's.
func (s *Service) withAgentParams(ctx context.Context, pipeline, uid string, params map[string]any) map[string]any {
	return s.withParamsOf(pipeline, uid, s.AgentParams(ctx, uid), params)
}

// withParamsOf is withAgentParams with the agent's parameters (paramsOf)
// at hand; it takes agent over.
func (s *Service) withParamsOf(pipeline, uid string, agent, params map[string]any) map[string]any {
	server := s.serverParams(uid)
	for k := range agent {
		// An agent's labels set only what the catalog lets an agent set:
		// facts of its host, never where its data goes or a credential.
		if _, theServers := server[k]; !theServers && !s.set.Catalog.AgentSettable(pipeline, k) {
			delete(agent, k)
		}
	}
	out := s.withDeclared(pipeline, params, agent)
	for k, v := range server {
		if _, given := out[k]; given {
			out[k] = v // the server's own win over anything given
		}
	}
	return out
}

// withDeclared adds to params the collector parameters of agent that params
// does not set and the pipeline declares.
func (s *Service) withDeclared(pipeline string, params, agent map[string]any) map[string]any {
	out := make(map[string]any, len(params)+len(agent))
	for k, v := range params {
		out[k] = v
	}
	for k, v := range agent {
		if _, given := out[k]; given {
			continue
		}
		if scope, declared := s.set.Catalog.Declares(pipeline, k); declared && scope == catalog.ScopeCollector {
			out[k] = v
		}
	}
	return out
}

// Render renders a catalog pipeline for one agent: params, then the
// per-agent collector parameters. The result is validated.
func (s *Service) Render(ctx context.Context, uid, pipeline string, params map[string]any) (apitypes.Assignment, error) {
	asg, _, err := s.render(ctx, uid, pipeline, params)
	return asg, err
}

// render is Render that also gives the environment variables the
// configuration references.
func (s *Service) render(ctx context.Context, uid, pipeline string, params map[string]any) (apitypes.Assignment, map[string]bool, error) {
	return s.renderWith(ctx, uid, pipeline, s.withAgentParams(ctx, pipeline, uid, params))
}

// renderWith is render with the agent's parameters already joined.
func (s *Service) renderWith(ctx context.Context, uid, pipeline string, params map[string]any) (apitypes.Assignment, map[string]bool, error) {
	r, err := s.renderOne(ctx, uid, pipeline, params)
	if err != nil {
		return apitypes.Assignment{}, nil, renderFailure{err}
	}
	return apitypes.Assignment{InstanceUID: uid, Pipeline: r.pipeline, Parameters: r.params, Config: string(r.config),
		ConfigHash: store.HashConfig(r.config)}, r.envUsed, nil
}

// RenderPaired renders two pipelines side by side in one configuration for
// one agent; the per-agent parameters join the shared collector parameters.
func (s *Service) RenderPaired(ctx context.Context, uid string, spec catalog.PairedSpec) (apitypes.Assignment, error) {
	spec.Shared = s.withAgentParams(ctx, spec.Baseline.Pipeline, uid, spec.Shared)
	r, err := s.renderPaired(ctx, uid, spec)
	if err != nil {
		return apitypes.Assignment{}, renderFailure{err}
	}
	return apitypes.Assignment{InstanceUID: uid, Config: string(r.config), ConfigHash: store.HashConfig(r.config)}, nil
}

// Preview renders a pipeline for no agent in particular (what the catalog
// page and `phoenix pipeline render` show).
func (s *Service) Preview(ctx context.Context, pipeline string, params map[string]any) (catalog.Rendered, error) {
	return s.set.Catalog.Render(ctx, pipeline, params)
}

// FromRequest renders what an API request asks for one agent: a catalog
// pipeline with parameters, or a configuration given verbatim. A verbatim
// configuration with host access (Checked.HostAccess), and parameters
// naming environment variables outside the allowlist (DeniedEnv), need
// grants.HostAccess; without it the error is a *HostAccessError.
func (s *Service) FromRequest(ctx context.Context, uid string, req apitypes.AssignRequest, grants Grants) (apitypes.Assignment, error) {
	return s.fromRequest(ctx, uid, req, grants, func() map[string]any { return s.AgentParams(ctx, uid) })
}

// fromRequest is FromRequest with the agent's parameters (paramsOf) from
// agentParams, called only for a catalog pipeline.
func (s *Service) fromRequest(ctx context.Context, uid string, req apitypes.AssignRequest, grants Grants,
	agentParams func() map[string]any,
) (apitypes.Assignment, error) {
	if (req.Pipeline == "") == (req.Config == "") {
		return apitypes.Assignment{}, fmt.Errorf("%w: give exactly one of pipeline or config", ErrRequest)
	}
	var asg apitypes.Assignment
	if req.Config != "" {
		checked, err := s.Validate(ctx, req.Config)
		if err != nil {
			return asg, err
		}
		if len(checked.HostAccess) > 0 && !grants.HostAccess {
			return asg, &HostAccessError{Accesses: checked.HostAccess}
		}
		asg = apitypes.Assignment{InstanceUID: uid, Config: req.Config, ConfigHash: checked.Hash}
	} else {
		if owned := s.serverOwned(req.Parameters); len(owned) > 0 {
			return asg, fmt.Errorf("%w: parameters %s are set by the server for each agent (its own telemetry, with its own credential)",
				ErrRequest, strings.Join(owned, ", "))
		}
		var err error
		var used map[string]bool
		params := s.withParamsOf(req.Pipeline, uid, agentParams(), req.Parameters)
		if asg, used, err = s.renderWith(ctx, uid, req.Pipeline, params); err != nil {
			return asg, err
		}
		if denied := s.deniedEnv(req.Pipeline, asg.Parameters, used); len(denied) > 0 && !grants.HostAccess {
			return apitypes.Assignment{}, &HostAccessError{Params: denied}
		}
	}
	asg.Reason = req.Reason
	return asg, nil
}

// Store stores assignments, in order, and tells their agents. It stops at
// the first store error: the ones before it are stored.
func (s *Service) Store(ctx context.Context, asgs ...apitypes.Assignment) ([]apitypes.Assignment, error) {
	return s.store(ctx, true, asgs...)
}

func (s *Service) store(ctx context.Context, push bool, asgs ...apitypes.Assignment) ([]apitypes.Assignment, error) {
	// Once validated, a fleet's assignments are stored whole even if the
	// caller goes away: half a fleet changed is worse than either.
	ctx = context.WithoutCancel(ctx)
	// The OpAMP endpoint hears of every stored assignment through the
	// store's changes and pushes it; pushing here too is only worth it for
	// a few agents, for whom it saves the watcher's round trip.
	push = push && len(asgs) <= immediatePushes
	out := make([]apitypes.Assignment, 0, len(asgs))
	// One transaction per chunk rather than per agent: a fleet's worth of
	// single writes (an fsync each) would take longer than the fleet.
	for chunk := range slices.Chunk(asgs, storeChunk) {
		stored, err := s.set.Store.SetAssignments(ctx, chunk)
		if err != nil {
			return out, err
		}
		out = append(out, stored...)
		if !push || s.set.Pusher == nil {
			continue
		}
		for _, a := range stored {
			if err := s.set.Pusher.Push(ctx, a.InstanceUID); err != nil {
				// Stored is what counts: the agent receives it on its next message.
				s.log.Warn("immediate push failed", "agent", a.InstanceUID, "error", err)
			}
		}
	}
	return out, nil
}

// storeChunk is how many assignments one store transaction writes: a
// fleet of up to 10,000 in one, so its agents hear of it once it is all
// stored. Smaller chunks were slower: the fleet applying the first ones
// (pushes, reports, record writes) held up the storing of the rest, and
// 10,000 assignments took 6–8 s to store in ten chunks against 1.4–2 s in
// one (docs/architecture.md, "Scale-out").
const storeChunk = 10_000

// immediatePushes is the most assignments Store pushes itself.
const immediatePushes = 16

// Assign renders a request for one existing agent and stores it; grants
// are what the caller may do (FromRequest).
func (s *Service) Assign(ctx context.Context, uid string, req apitypes.AssignRequest, grants Grants) (apitypes.Assignment, error) {
	if _, err := s.set.Store.GetAgent(ctx, uid); err != nil {
		return apitypes.Assignment{}, fmt.Errorf("agent %s: %w", uid, err)
	}
	asg, err := s.FromRequest(ctx, uid, req, grants)
	if err != nil {
		return asg, err
	}
	stored, err := s.Store(ctx, asg)
	if err != nil {
		return apitypes.Assignment{}, err
	}
	return stored[0], nil
}

// AssignMatching renders the request for every agent the selector matches
// and, only when every one renders, validates and is allowed by grants
// (FromRequest), stores them all.
func (s *Service) AssignMatching(ctx context.Context, sel string, req apitypes.AssignRequest, grants Grants) ([]apitypes.AssignResult, error) {
	start := time.Now()
	_, pending, err := s.renderMatching(ctx, sel, req, grants)
	if err != nil {
		return nil, err
	}
	rendered := time.Now()
	stored, err := s.Store(ctx, pending...)
	if err != nil {
		return nil, err
	}
	// Where a fleet-wide assignment's time goes, for whoever waits on it.
	s.log.Info("assigned matching agents", "selector", sel, "pipeline", req.Pipeline, "agents", len(stored),
		"render_seconds", rendered.Sub(start).Seconds(), "store_seconds", time.Since(rendered).Seconds())
	results := make([]apitypes.AssignResult, len(stored))
	for i, a := range stored {
		results[i] = apitypes.AssignResult{InstanceUID: a.InstanceUID, ConfigHash: a.ConfigHash, Generation: a.Generation}
	}
	return results, nil
}

// renderMatching renders the request (FromRequest) for every agent the
// selector matches, in instance UID order, failing at the first that does
// not render; it stores nothing.
func (s *Service) renderMatching(ctx context.Context, sel string, req apitypes.AssignRequest, grants Grants) ([]apitypes.Agent, []apitypes.Assignment, error) {
	parsed, err := selector.ParseRequired(sel)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrRequest, err)
	}
	agents, err := s.Matching(ctx, parsed, false)
	if err != nil {
		return nil, nil, err
	}
	if len(agents) == 0 {
		return nil, nil, fmt.Errorf("%w selector %s", ErrNoMatch, parsed)
	}
	pending := make([]apitypes.Assignment, 0, len(agents))
	for _, a := range agents {
		// The agent is at hand: its parameters need no second read.
		asg, err := s.fromRequest(ctx, a.InstanceUID, req, grants, func() map[string]any { return s.paramsOf(a.InstanceUID, a.Labels) })
		if err != nil {
			return nil, nil, err
		}
		pending = append(pending, asg)
	}
	return agents, pending, nil
}

// Unassign removes an agent's assignment.
func (s *Service) Unassign(ctx context.Context, uid string) error {
	return s.set.Store.DeleteAssignment(ctx, uid)
}

// Matching lists every agent the selector matches (online ones only when
// asked), across all pages, ordered by instance UID.
func (s *Service) Matching(ctx context.Context, sel selector.Selector, onlineOnly bool) ([]apitypes.Agent, error) {
	filter := store.AgentFilter{Labels: sel.Equalities()}
	if onlineOnly {
		online := true
		filter.Online = &online
	}
	var out []apitypes.Agent
	page := store.Page{Limit: 1000}
	for {
		agents, next, err := s.set.Store.ListAgents(ctx, filter, page)
		if err != nil {
			return nil, err
		}
		for _, a := range agents {
			if sel.Matches(a.Labels) {
				out = append(out, a)
			}
		}
		if next == "" {
			return out, nil
		}
		page.After = next
	}
}

// AssignDefault gives a new agent without an assignment the default
// pipeline, when one is configured. Failures are logged: the agent stays
// unassigned and can be assigned by hand. It does not push: the OpAMP
// endpoint calls it while handling the agent's first message, whose reply
// carries the assignment.
func (s *Service) AssignDefault(ctx context.Context, uid string) {
	if s.set.DefaultPipeline == "" {
		return
	}
	if _, err := s.set.Store.GetAssignment(ctx, uid); err == nil {
		return
	}
	asg, err := s.Render(ctx, uid, s.set.DefaultPipeline, s.set.DefaultParameters)
	if err == nil {
		asg.Reason = "default pipeline for new agents"
		_, err = s.store(ctx, false, asg)
	}
	if err != nil {
		s.log.Error("default pipeline not assigned", "agent", uid, "pipeline", s.set.DefaultPipeline, "error", err)
		return
	}
	s.log.Info("assigned the default pipeline", "agent", uid, "pipeline", s.set.DefaultPipeline)
}
