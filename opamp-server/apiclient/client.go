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

	"github.com/phoenix/platform/opamp-server/api"
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
	Status  int
	Code    string
	Message string
	// Details carries validation problems ({path, message}) and the like.
	Details any
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.Status, e.Code)
	if problems, ok := e.Details.([]any); ok {
		for _, p := range problems {
			m, ok := p.(map[string]any)
			if !ok {
				continue
			}
			// Configuration problems name a path, parameter problems a
			// parameter (of one arm, for paired configurations).
			switch path, param, arm := str(m["path"]), str(m["param"]), str(m["arm"]); {
			case path != "":
				msg += fmt.Sprintf("\n  %s: %v", path, m["message"])
			case param != "" && arm != "":
				msg += fmt.Sprintf("\n  %s: parameter %q: %v", arm, param, m["message"])
			case param != "":
				msg += fmt.Sprintf("\n  parameter %q: %v", param, m["message"])
			default:
				msg += fmt.Sprintf("\n  %v", m["message"])
			}
		}
	}
	return msg
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// IsStatus reports whether err is an API error with the given HTTP status.
func IsStatus(err error, status int) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == status
}

// Do sends a request and decodes the envelope's data into out (when not
// nil); it returns the response metadata.
func (c *Client) Do(ctx context.Context, method, path string, query url.Values, body, out any) (api.Meta, error) {
	var meta api.Meta
	u := c.base + api.Prefix + path
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
		var eb api.ErrorBody
		if json.Unmarshal(raw, &eb) != nil || eb.Error.Code == "" {
			return meta, &Error{Status: resp.StatusCode, Code: "http", Message: strings.TrimSpace(string(raw))}
		}
		return meta, &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
	}
	if resp.StatusCode == http.StatusNoContent {
		return meta, nil
	}
	env := struct {
		Data json.RawMessage `json:"data"`
		Meta api.Meta        `json:"meta"`
	}{}
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
