package apiclient // import "github.com/phoenix/platform/opamp-server/apiclient"

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// CreateExperiment stores an experiment from its spec, and starts it when
// start is set.
func (c *Client) CreateExperiment(ctx context.Context, spec apitypes.ExperimentSpec, start bool) (apitypes.Experiment, error) {
	var out apitypes.Experiment
	q := url.Values{}
	if start {
		q.Set("start", "true")
	}
	_, err := c.Do(ctx, http.MethodPost, "/experiments", q, spec, &out)
	return out, err
}

// Experiments lists experiments, optionally by status.
func (c *Client) Experiments(ctx context.Context, status ...apitypes.ExperimentStatus) ([]apitypes.Experiment, error) {
	var all []apitypes.Experiment
	q := url.Values{}
	if len(status) > 0 {
		names := make([]string, len(status))
		for i, s := range status {
			names[i] = string(s)
		}
		q.Set("status", strings.Join(names, ","))
	}
	for {
		var page []apitypes.Experiment
		meta, err := c.Do(ctx, http.MethodGet, "/experiments", q, nil, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if meta.NextCursor == "" {
			return all, nil
		}
		q.Set("cursor", meta.NextCursor)
	}
}

// Experiment returns one experiment with its targets and events.
func (c *Client) Experiment(ctx context.Context, id string) (apitypes.Experiment, error) {
	return c.ExperimentWith(ctx, id, ExperimentOptions{})
}

// ExperimentOptions choose what an experiment's view carries.
type ExperimentOptions struct {
	// WithoutTargets leaves State.Targets out (?targets=false); the view's
	// State.TargetSummary still counts them. A poller that shows no
	// per-target detail sets it: a fleet's targets are MiBs.
	WithoutTargets bool
}

// ExperimentWith returns one experiment with its events, and its targets
// unless opts leave them out.
func (c *Client) ExperimentWith(ctx context.Context, id string, opts ExperimentOptions) (apitypes.Experiment, error) {
	var q url.Values
	if opts.WithoutTargets {
		q = url.Values{"targets": {"false"}}
	}
	var out apitypes.Experiment
	_, err := c.Do(ctx, http.MethodGet, "/experiments/"+url.PathEscape(id), q, nil, &out)
	return out, err
}

// Experiment actions.
const (
	ActionStart    = "start"
	ActionStop     = "stop"
	ActionPromote  = "promote"
	ActionRollback = "rollback"
)

// ExperimentAction runs an action: ActionStart, ActionStop, ActionPromote or
// ActionRollback.
func (c *Client) ExperimentAction(ctx context.Context, id, action string) (apitypes.Experiment, error) {
	var out apitypes.Experiment
	_, err := c.Do(ctx, http.MethodPost, "/experiments/"+url.PathEscape(id)+"/"+action, nil, nil, &out)
	return out, err
}

// PromoteExperiment starts a progressive promotion: req's waves and gate
// timeout, or the server's defaults where they are zero.
func (c *Client) PromoteExperiment(ctx context.Context, id string, req apitypes.PromoteRequest) (apitypes.Experiment, error) {
	var out apitypes.Experiment
	_, err := c.Do(ctx, http.MethodPost, "/experiments/"+url.PathEscape(id)+"/"+ActionPromote, nil, req, &out)
	return out, err
}

// ExperimentResults returns final or interim results.
func (c *Client) ExperimentResults(ctx context.Context, id string) (apitypes.ExperimentResults, error) {
	var out apitypes.ExperimentResults
	_, err := c.Do(ctx, http.MethodGet, "/experiments/"+url.PathEscape(id)+"/results", nil, nil, &out)
	return out, err
}

// ExperimentReport writes the experiment's HTML report to w.
func (c *Client) ExperimentReport(ctx context.Context, id string, w io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+apitypes.Prefix+"/experiments/"+url.PathEscape(id)+"/report", nil)
	if err != nil {
		return err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return &Error{Status: resp.StatusCode, Code: "http", Message: fmt.Sprintf("report: %s", strings.TrimSpace(string(raw)))}
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
