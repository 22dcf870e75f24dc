// Package apiclient is a Go client for the control plane's REST API, used by
// the phoenix CLI and the end-to-end tests.
package apiclient // import "github.com/phoenix/platform/opamp-server/apiclient"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Client calls one server.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the server at baseURL (e.g.
// "http://127.0.0.1:8080") authenticating with token ("" for none).
func New(baseURL, token string) *Client {
	return &Client{
		base:  strings.TrimRight(baseURL, "/"),
		token: token,
		http:  &http.Client{Timeout: 30 * time.Second},
	}
}

// Error is an API error response.
type Error struct {
	Status int
	// Code is the API's error code, or "http" for a response that was not
	// an API error body.
	Code    apitypes.ErrorCode
	Message string
	// Details lists validation problems.
	Details []apitypes.Problem
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
	for _, p := range e.Details {
		// Configuration problems name a path, parameter problems a
		// parameter (of one arm, for paired configurations).
		switch {
		case p.Path != "":
			msg += fmt.Sprintf("\n  %s: %s", p.Path, p.Message)
		case p.Param != "" && p.Arm != "":
			msg += fmt.Sprintf("\n  %s: parameter %q: %s", p.Arm, p.Param, p.Message)
		case p.Param != "":
			msg += fmt.Sprintf("\n  parameter %q: %s", p.Param, p.Message)
		default:
			msg += "\n  " + p.Message
		}
	}
	return msg
}

// IsStatus reports whether err is an API error with the given HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// Do sends a request and decodes the envelope's data into out (when not
// nil); it returns the response metadata.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) (apitypes.Meta, error) {
	var meta apitypes.Meta
	u := c.base + apitypes.Prefix + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return meta, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return meta, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return meta, fmt.Errorf("calling %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return meta, err
	}
	if resp.StatusCode >= 400 {
		var eb apitypes.ErrorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Error.Code == "" {
			return meta, &Error{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(string(raw))}
		}
		return meta, &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
	}
	if resp.StatusCode == http.StatusNoContent {
		return meta, nil
	}
	var env apitypes.Envelope[json.RawMessage]
	if err := json.Unmarshal(raw, &env); err != nil {
		return meta, fmt.Errorf("decoding response: %w", err)
	}
	if out != nil {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return env.Meta, fmt.Errorf("decoding response data: %w", err)
		}
	}
	return env.Meta, nil
}
