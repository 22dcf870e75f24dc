package assignment

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"sync"

	"github.com/google/uuid"

	"github.com/phoenix/platform/pipelines/catalog"
)

// Rendering and validating a configuration costs milliseconds of CPU, and a
// fleet-wide assignment asks for the same configuration for every agent
// with only the instance UID changed. So the service renders each distinct
// set of parameters once, with a placeholder for the instance UID, and
// stamps each agent's UID into the result: a fleet that shares a pipeline
// and its parameters costs one render.

// instancePlaceholder stands for the instance UID in a cached rendering. It
// is a valid instance_id, and appears nowhere else in a configuration.
const instancePlaceholder = "phoenix-instance-uid-4b1f9e07c2d8a365"

// maxCachedRenderings bounds the cache: distinct parameter sets in use at
// once (pipelines × parameters × label-set parameters), not agents.
const maxCachedRenderings = 256

// rendering is what a render gives, with the instance UID as the
// placeholder while cached.
type rendering struct {
	pipeline, version string
	params            map[string]any
	config            []byte
	// envUsed are the ${env:NAME} the configuration references, found once
	// per rendering: the instance UID changes none of them.
	envUsed map[string]bool
}

type renderCache struct {
	mu      sync.Mutex
	entries map[string]rendering
	order   []string // insertion order, for eviction
	renders int      // renders done, for tests
}

// stampable reports whether uid can replace the placeholder in YAML without
// changing what the document means: a UUID (with its dashes) is never a
// number, boolean or null, and needs no quoting.
func stampable(uid string) bool {
	_, err := uuid.Parse(uid)
	return err == nil && len(uid) == 36
}

// get returns the rendering of params for uid: rendered once per distinct
// parameter set with the instance UID replaced by the placeholder, then
// stamped. kind separates kinds of render (single, paired); render does
// the work. Parameters that do not carry uid as instance_id are rendered
// directly.
func (c *renderCache) get(kind string, uid string, params map[string]any, key any, render func(map[string]any) (rendering, error)) (rendering, error) {
	if !stampable(uid) || params["instance_id"] != uid {
		r, err := render(params)
		r.envUsed = envUsed(r.config)
		return r, err
	}
	generic := maps.Clone(params)
	generic["instance_id"] = instancePlaceholder
	raw, err := json.Marshal([]any{kind, key, generic})
	if err != nil {
		return render(params)
	}
	k := string(raw)
	c.mu.Lock()
	r, hit := c.entries[k]
	c.mu.Unlock()
	if !hit {
		if r, err = render(generic); err != nil {
			return rendering{}, err
		}
		r.envUsed = envUsed(r.config)
		c.put(k, r)
	}
	out := rendering{pipeline: r.pipeline, version: r.version, params: maps.Clone(r.params),
		config: bytes.ReplaceAll(r.config, []byte(instancePlaceholder), []byte(uid)), envUsed: r.envUsed}
	if _, ok := out.params["instance_id"]; ok {
		out.params["instance_id"] = uid
	}
	return out, nil
}

func (c *renderCache) put(k string, r rendering) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]rendering{}
	}
	if _, ok := c.entries[k]; !ok {
		c.order = append(c.order, k)
	}
	c.entries[k] = r
	c.renders++
	for len(c.order) > maxCachedRenderings {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
}

// renderOne renders a single pipeline through the cache.
func (s *Service) renderOne(ctx context.Context, uid, pipeline string, params map[string]any) (rendering, error) {
	return s.renders.get("single", uid, params, pipeline, func(p map[string]any) (rendering, error) {
		r, err := s.set.Catalog.Render(ctx, pipeline, p)
		if err != nil {
			return rendering{}, err
		}
		return rendering{pipeline: r.Pipeline, version: r.Version, params: r.Params, config: r.Config}, nil
	})
}

// renderPaired renders a paired configuration through the cache.
func (s *Service) renderPaired(ctx context.Context, uid string, spec catalog.PairedSpec) (rendering, error) {
	key := []any{spec.Baseline, spec.Candidate, spec.Candidates, spec.CandidateExports}
	return s.renders.get("paired", uid, spec.Shared, key, func(shared map[string]any) (rendering, error) {
		spec.Shared = shared
		r, err := s.set.Catalog.RenderPaired(ctx, spec)
		if err != nil {
			return rendering{}, err
		}
		return rendering{params: r.Shared, config: r.Config}, nil
	})
}
