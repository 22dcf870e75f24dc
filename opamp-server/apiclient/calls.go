package apiclient // import "github.com/phoenix/platform/opamp-server/apiclient"

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/phoenix/platform/opamp-server/api"
	"github.com/phoenix/platform/opamp-server/store"
)

// ListAgentsOptions filter an agent listing.
type ListAgentsOptions struct {
	Selector string
	Online   *bool
	Limit    int
	Cursor   string
}

// ListAgents returns one page of agents and the next page's cursor.
func (c *Client) ListAgents(ctx context.Context, o ListAgentsOptions) ([]api.AgentView, string, error) {
	q := url.Values{}
	if o.Selector != "" {
		q.Set("selector", o.Selector)
	}
	if o.Online != nil {
		q.Set("online", strconv.FormatBool(*o.Online))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	var out []api.AgentView
	meta, err := c.Do(ctx, http.MethodGet, "/agents", q, nil, &out)
	return out, meta.NextCursor, err
}

// AllAgents follows every page of a listing.
func (c *Client) AllAgents(ctx context.Context, o ListAgentsOptions) ([]api.AgentView, error) {
	var all []api.AgentView
	for {
		page, next, err := c.ListAgents(ctx, o)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == "" {
			return all, nil
		}
		o.Cursor = next
	}
}

// GetAgent returns one agent with its effective config and assignment.
func (c *Client) GetAgent(ctx context.Context, uid string) (api.AgentView, error) {
	var out api.AgentView
	_, err := c.Do(ctx, http.MethodGet, "/agents/"+url.PathEscape(uid), nil, nil, &out)
	return out, err
}

// AgentMetrics returns an agent's own-telemetry samples.
func (c *Client) AgentMetrics(ctx context.Context, uid, name, variant string, from, to time.Time) ([]store.Sample, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	if variant != "" {
		q.Set("variant", variant)
	}
	if !from.IsZero() {
		q.Set("from", from.UTC().Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.UTC().Format(time.RFC3339))
	}
	var out []store.Sample
	_, err := c.Do(ctx, http.MethodGet, "/agents/"+url.PathEscape(uid)+"/metrics", q, nil, &out)
	return out, err
}

// AssignAgent assigns a configuration to one agent.
func (c *Client) AssignAgent(ctx context.Context, uid string, req api.AssignRequest) (api.AssignmentView, error) {
	var out api.AssignmentView
	_, err := c.Do(ctx, http.MethodPut, "/agents/"+url.PathEscape(uid)+"/config", nil, req, &out)
	return out, err
}

// UnassignAgent removes an agent's assignment.
func (c *Client) UnassignAgent(ctx context.Context, uid string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/agents/"+url.PathEscape(uid)+"/config", nil, nil, nil)
	return err
}

// AssignMany assigns a configuration to every agent matching a selector.
func (c *Client) AssignMany(ctx context.Context, req api.BulkAssignRequest) ([]api.AssignResult, error) {
	var out []api.AssignResult
	_, err := c.Do(ctx, http.MethodPost, "/assignments", nil, req, &out)
	return out, err
}

// Pipelines lists the catalog, as raw JSON documents.
func (c *Client) Pipelines(ctx context.Context) ([]json.RawMessage, error) {
	var out []json.RawMessage
	_, err := c.Do(ctx, http.MethodGet, "/pipelines", nil, nil, &out)
	return out, err
}

// Pipeline returns one catalog pipeline.
func (c *Client) Pipeline(ctx context.Context, name string) (json.RawMessage, error) {
	var out json.RawMessage
	_, err := c.Do(ctx, http.MethodGet, "/pipelines/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// RenderPipeline renders and validates a pipeline.
func (c *Client) RenderPipeline(ctx context.Context, name string, params map[string]any) (api.Rendered, error) {
	var out api.Rendered
	_, err := c.Do(ctx, http.MethodPost, "/pipelines/"+url.PathEscape(name)+"/render", nil,
		map[string]any{"parameters": params}, &out)
	return out, err
}

// ValidateConfig validates a complete collector configuration.
func (c *Client) ValidateConfig(ctx context.Context, config string) error {
	_, err := c.Do(ctx, http.MethodPost, "/pipelines/validate", nil, map[string]string{"config": config}, nil)
	return err
}
