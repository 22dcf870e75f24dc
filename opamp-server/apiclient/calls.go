package apiclient // import "github.com/phoenix/platform/opamp-server/apiclient"

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// ListAgentsOptions filter an agent listing.
type ListAgentsOptions struct {
	Selector string
	Online   *bool
	Limit    int
	Cursor   string
}

// filter is the query of the options' selector and online filter.
func (o ListAgentsOptions) filter() url.Values {
	q := url.Values{}
	if o.Selector != "" {
		q.Set("selector", o.Selector)
	}
	if o.Online != nil {
		q.Set("online", strconv.FormatBool(*o.Online))
	}
	return q
}

// ListAgents returns one page of agents and the next page's cursor.
func (c *Client) ListAgents(ctx context.Context, o ListAgentsOptions) ([]apitypes.AgentView, string, error) {
	q := o.filter()
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	if o.Cursor != "" {
		q.Set("cursor", o.Cursor)
	}
	var out []apitypes.AgentView
	meta, err := c.Do(ctx, http.MethodGet, "/agents", q, nil, &out)
	return out, meta.NextCursor, err
}

// AllAgents follows every page of a listing.
func (c *Client) AllAgents(ctx context.Context, o ListAgentsOptions) ([]apitypes.AgentView, error) {
	var all []apitypes.AgentView
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

// AgentSummary counts the agents a listing with the same options would
// return (Limit and Cursor aside) by state, without listing them.
func (c *Client) AgentSummary(ctx context.Context, o ListAgentsOptions) (apitypes.AgentSummary, error) {
	var out apitypes.AgentSummary
	_, err := c.Do(ctx, http.MethodGet, "/agents/summary", o.filter(), nil, &out)
	return out, err
}

// GetAgent returns one agent with its effective config and assignment.
func (c *Client) GetAgent(ctx context.Context, uid string) (apitypes.AgentView, error) {
	var out apitypes.AgentView
	_, err := c.Do(ctx, http.MethodGet, "/agents/"+url.PathEscape(uid), nil, nil, &out)
	return out, err
}

// DeleteAgent removes an agent, with its assignment, from the inventory.
func (c *Client) DeleteAgent(ctx context.Context, uid string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/agents/"+url.PathEscape(uid), nil, nil, nil)
	return err
}

// AgentMetrics returns an agent's own-telemetry samples.
func (c *Client) AgentMetrics(ctx context.Context, uid, name, variant string, from, to time.Time) ([]apitypes.Sample, error) {
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
	var out []apitypes.Sample
	_, err := c.Do(ctx, http.MethodGet, "/agents/"+url.PathEscape(uid)+"/metrics", q, nil, &out)
	return out, err
}

// AssignAgent assigns a configuration to one agent.
func (c *Client) AssignAgent(ctx context.Context, uid string, req apitypes.AssignRequest) (apitypes.Assignment, error) {
	var out apitypes.Assignment
	_, err := c.Do(ctx, http.MethodPut, "/agents/"+url.PathEscape(uid)+"/config", nil, req, &out)
	return out, err
}

// UnassignAgent removes an agent's assignment.
func (c *Client) UnassignAgent(ctx context.Context, uid string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/agents/"+url.PathEscape(uid)+"/config", nil, nil, nil)
	return err
}

// AssignMany assigns a configuration to every agent matching a selector.
func (c *Client) AssignMany(ctx context.Context, req apitypes.BulkAssignRequest) ([]apitypes.AssignResult, error) {
	var out []apitypes.AssignResult
	_, err := c.Do(ctx, http.MethodPost, "/assignments", nil, req, &out)
	return out, err
}

// Pipelines lists the catalog.
func (c *Client) Pipelines(ctx context.Context) ([]apitypes.Pipeline, error) {
	var out []apitypes.Pipeline
	_, err := c.Do(ctx, http.MethodGet, "/pipelines", nil, nil, &out)
	return out, err
}

// Pipeline returns one catalog pipeline.
func (c *Client) Pipeline(ctx context.Context, name string) (apitypes.Pipeline, error) {
	var out apitypes.Pipeline
	_, err := c.Do(ctx, http.MethodGet, "/pipelines/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// RenderPipeline renders and validates a pipeline.
func (c *Client) RenderPipeline(ctx context.Context, name string, params map[string]any) (apitypes.Rendered, error) {
	var out apitypes.Rendered
	_, err := c.Do(ctx, http.MethodPost, "/pipelines/"+url.PathEscape(name)+"/render", nil,
		apitypes.RenderRequest{Parameters: params}, &out)
	return out, err
}

// ValidateConfig validates a complete collector configuration; an invalid
// one is an *Error listing each problem.
func (c *Client) ValidateConfig(ctx context.Context, config string) (apitypes.Validated, error) {
	var out apitypes.Validated
	_, err := c.Do(ctx, http.MethodPost, "/pipelines/validate", nil, apitypes.ValidateRequest{Config: config}, &out)
	return out, err
}

// Enroll exchanges the client's enrollment token for a new agent identity.
func (c *Client) Enroll(ctx context.Context, req apitypes.EnrollRequest) (apitypes.AgentCredential, error) {
	var out apitypes.AgentCredential
	_, err := c.Do(ctx, http.MethodPost, "/agents/enroll", nil, req, &out)
	return out, err
}

// Self returns the agent the client's agent credential speaks for.
func (c *Client) Self(ctx context.Context) (apitypes.AgentIdentity, error) {
	var out apitypes.AgentIdentity
	_, err := c.Do(ctx, http.MethodGet, "/agents/self", nil, nil, &out)
	return out, err
}

// RotateCredential replaces the client's agent credential with a new one;
// the old one keeps working until the returned PreviousValidUntil.
func (c *Client) RotateCredential(ctx context.Context) (apitypes.AgentCredential, error) {
	var out apitypes.AgentCredential
	_, err := c.Do(ctx, http.MethodPost, "/agents/self/credential", nil, nil, &out)
	return out, err
}

// RevokeCredential revokes an agent's credential and closes its connection:
// the agent must enroll again.
func (c *Client) RevokeCredential(ctx context.Context, uid string) error {
	_, err := c.Do(ctx, http.MethodDelete, "/agents/"+url.PathEscape(uid)+"/credential", nil, nil, nil)
	return err
}

// AssignProgressively starts a progressive assignment (req has waves).
func (c *Client) AssignProgressively(ctx context.Context, req apitypes.BulkAssignRequest) (apitypes.AssignmentRollout, error) {
	var out apitypes.AssignmentRollout
	_, err := c.Do(ctx, http.MethodPost, "/assignments", nil, req, &out)
	return out, err
}

// Rollout returns one progressive assignment.
func (c *Client) Rollout(ctx context.Context, id string) (apitypes.AssignmentRollout, error) {
	var out apitypes.AssignmentRollout
	_, err := c.Do(ctx, http.MethodGet, "/rollouts/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// Rollouts lists the newest progressive assignments, the active ones only
// when asked.
func (c *Client) Rollouts(ctx context.Context, active bool) ([]apitypes.AssignmentRollout, error) {
	var out []apitypes.AssignmentRollout
	q := url.Values{}
	if active {
		q.Set("active", "true")
	}
	_, err := c.Do(ctx, http.MethodGet, "/rollouts", q, nil, &out)
	return out, err
}

// HaltRollout halts a progressive assignment.
func (c *Client) HaltRollout(ctx context.Context, id string) (apitypes.AssignmentRollout, error) {
	var out apitypes.AssignmentRollout
	_, err := c.Do(ctx, http.MethodPost, "/rollouts/"+url.PathEscape(id)+"/halt", nil, nil, &out)
	return out, err
}
