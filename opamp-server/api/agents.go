package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/selector"
	"github.com/phoenix/platform/opamp-server/store"
)

// Drift compares structure, not values: which components are configured
// and how pipelines wire them. The collector reports its effective
// configuration re-rendered with every default filled in (and some
// components, such as host_metrics' scrapers, not rendered at all), so
// comparing values would report drift where there is none, while a different
// component set or pipeline wiring is exactly what running the wrong
// configuration looks like.
func computeDrift(a apitypes.Agent, asg *apitypes.Assignment) apitypes.Drift {
	switch {
	case asg == nil:
		return apitypes.Drift{State: apitypes.DriftUnassigned}
	case a.AwaitingRetry(asg.ConfigHash):
		r := a.ApplyRetry
		return apitypes.Drift{State: apitypes.DriftRetrying, Message: fmt.Sprintf(
			"the collector was not healthy within the supervisor's apply timeout (%d of %d); sending it again at %s",
			r.Attempts, r.Limit, r.NextAt.UTC().Format(time.RFC3339))}
	case a.RemoteConfig.Hash == asg.ConfigHash && a.RemoteConfig.Status == apitypes.ConfigStatusFailed,
		slices.Contains(a.FailedConfigHashes, asg.ConfigHash):
		return apitypes.Drift{State: apitypes.DriftFailed, Message: a.RemoteConfig.ErrorMessage}
	case a.RemoteConfig.Hash != asg.ConfigHash:
		return apitypes.Drift{State: apitypes.DriftPending}
	case a.RemoteConfig.Status != apitypes.ConfigStatusApplied:
		return apitypes.Drift{State: apitypes.DriftApplying}
	}
	var want, got configShape
	if err := yaml.Unmarshal([]byte(asg.Config), &want); err != nil {
		return apitypes.Drift{State: apitypes.DriftDrifted, Message: "assigned configuration unreadable: " + err.Error()}
	}
	if err := yaml.Unmarshal([]byte(a.EffectiveConfig), &got); err != nil || a.EffectiveConfig == "" {
		return apitypes.Drift{State: apitypes.DriftDrifted, Message: "effective configuration unreadable or not reported"}
	}
	if differ := want.diff(got); len(differ) > 0 {
		return apitypes.Drift{State: apitypes.DriftDrifted, Sections: differ}
	}
	return apitypes.Drift{State: apitypes.DriftInSync}
}

// configShape is the structure of a collector configuration.
type configShape struct {
	Receivers  map[string]any `yaml:"receivers"`
	Processors map[string]any `yaml:"processors"`
	Exporters  map[string]any `yaml:"exporters"`
	Connectors map[string]any `yaml:"connectors"`
	Extensions map[string]any `yaml:"extensions"`
	Service    struct {
		Extensions []string                 `yaml:"extensions"`
		Pipelines  map[string]pipelineShape `yaml:"pipelines"`
	} `yaml:"service"`
}

type pipelineShape struct {
	Receivers  []string `yaml:"receivers"`
	Processors []string `yaml:"processors"`
	Exporters  []string `yaml:"exporters"`
}

// diff lists the sections where got does not have want's structure. The
// supervisor adds its own extension (opamp), so extensions need only be a
// superset.
func (want configShape) diff(got configShape) []string {
	var differ []string
	for _, sec := range []struct {
		name      string
		want, got map[string]any
	}{{"receivers", want.Receivers, got.Receivers}, {"processors", want.Processors, got.Processors},
		{"exporters", want.Exporters, got.Exporters}, {"connectors", want.Connectors, got.Connectors}} {
		if !slices.Equal(slices.Sorted(maps.Keys(sec.want)), slices.Sorted(maps.Keys(sec.got))) {
			differ = append(differ, sec.name)
		}
	}
	for _, ext := range want.Service.Extensions {
		if !slices.Contains(got.Service.Extensions, ext) {
			differ = append(differ, "service.extensions")
			break
		}
	}
	if !samePipelines(want.Service.Pipelines, got.Service.Pipelines) {
		differ = append(differ, "service.pipelines")
	}
	return differ
}

func samePipelines(want, got map[string]pipelineShape) bool {
	if !slices.Equal(slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got))) {
		return false
	}
	for id, w := range want {
		g := got[id]
		// Processor order matters; receivers and exporters are sets.
		if !slices.Equal(w.Processors, g.Processors) || !sameSet(w.Receivers, g.Receivers) || !sameSet(w.Exporters, g.Exporters) {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// bearerTokens finds bearer credentials in configuration text.
var bearerTokens = regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}`)

// redact hides credentials the supervisor may have written into an
// effective configuration (the own-telemetry offer carries a token).
func redact(cfg string) string {
	return bearerTokens.ReplaceAllString(cfg, "${1}<redacted>")
}

func (a *API) view(r *http.Request, ag apitypes.Agent, withConfig bool) (apitypes.AgentView, error) {
	v := apitypes.AgentView{Agent: ag}
	v.EffectiveConfig = redact(ag.EffectiveConfig)
	if !withConfig {
		v.EffectiveConfig = ""
	}
	asg, err := a.set.Store.GetAssignment(r.Context(), ag.InstanceUID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		v.Drift = computeDrift(ag, nil)
		return v, nil
	case err != nil:
		return v, err
	}
	v.Drift = computeDrift(ag, &asg)
	v.Assignment = assignmentView(asg, withConfig)
	return v, nil
}

func assignmentView(asg apitypes.Assignment, withConfig bool) *apitypes.Assignment {
	av := &apitypes.Assignment{Pipeline: asg.Pipeline, Parameters: asg.Parameters, ConfigHash: asg.ConfigHash,
		Reason: asg.Reason, AssignedAt: asg.AssignedAt, Generation: asg.Generation}
	if withConfig {
		av.Config = asg.Config
	}
	return av
}

// listAgents: GET /agents?selector=env=prod,host=~web-.*&online=true&limit=&cursor=
func (a *API) listAgents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sel, err := selector.Parse(q["selector"]...)
	if err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
		return
	}
	filter := store.AgentFilter{Labels: sel.Equalities()}
	if s := q.Get("online"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "online: want true or false", nil)
			return
		}
		filter.Online = &b
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 || limit > 1000 {
			fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "limit: want an integer between 1 and 1000", nil)
			return
		}
	}
	agents, next, err := a.set.Store.ListAgents(r.Context(), filter, store.Page{After: q.Get("cursor"), Limit: limit})
	if err != nil {
		storeError(w, err, "agents")
		return
	}
	views := make([]apitypes.AgentView, 0, len(agents))
	for _, ag := range agents {
		if !sel.Matches(ag.Labels) {
			continue
		}
		v, err := a.view(r, ag, false)
		if err != nil {
			storeError(w, err, "assignment")
			return
		}
		views = append(views, v)
	}
	ok(w, r, http.StatusOK, views, next)
}

// getAgent: GET /agents/{uid}
func (a *API) getAgent(w http.ResponseWriter, r *http.Request) {
	ag, err := a.set.Store.GetAgent(r.Context(), r.PathValue("uid"))
	if err != nil {
		storeError(w, err, "agent")
		return
	}
	v, err := a.view(r, ag, true)
	if err != nil {
		storeError(w, err, "assignment")
		return
	}
	ok(w, r, http.StatusOK, v, "")
}

// agentMetrics: GET /agents/{uid}/metrics?name=&variant=&from=&to=
func (a *API) agentMetrics(w http.ResponseWriter, r *http.Request) {
	uid := r.PathValue("uid")
	if _, err := a.set.Store.GetAgent(r.Context(), uid); err != nil {
		storeError(w, err, "agent")
		return
	}
	q := r.URL.Query()
	sq := store.SampleQuery{InstanceUID: uid, Name: q.Get("name"), Variant: q.Get("variant")}
	for _, p := range []struct {
		key string
		dst *time.Time
	}{{"from", &sq.From}, {"to", &sq.To}} {
		if s := q.Get(p.key); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, p.key+": want an RFC 3339 time", nil)
				return
			}
			*p.dst = t
		}
	}
	samples, err := a.set.Store.QuerySamples(r.Context(), sq)
	if err != nil {
		storeError(w, err, "samples")
		return
	}
	ok(w, r, http.StatusOK, samples, "")
}
