package apitypes

import "time"

// Prefix is the path every API route lives under.
const Prefix = "/api/v1"

// Envelope wraps every successful response.
type Envelope[T any] struct {
	Data T    `json:"data"`
	Meta Meta `json:"meta"`
}

// Meta describes a response.
type Meta struct {
	// RequestID is the X-Request-ID the server logged the request under.
	RequestID string    `json:"request_id"`
	Timestamp time.Time `json:"timestamp"`
	// NextCursor is set on listings with more pages: pass it as `cursor`.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error describes what went wrong.
type Error struct {
	// Code is stable and machine-readable; Message is for people.
	Code    ErrorCode `json:"code"`
	Message string    `json:"message"`
	// Details lists each problem of an invalid configuration or parameter set.
	Details []Problem `json:"details,omitempty"`
}

// ErrorCode classifies an error.
type ErrorCode string

// Error codes.
const (
	CodeBadRequest        ErrorCode = "bad_request"
	CodeUnauthorized      ErrorCode = "unauthorized"
	CodeForbidden         ErrorCode = "forbidden"
	CodeNotFound          ErrorCode = "not_found"
	CodeConflict          ErrorCode = "conflict"
	CodeInvalid           ErrorCode = "invalid_config"
	CodeInvalidParameters ErrorCode = "invalid_parameters"
	CodeUnavailable       ErrorCode = "unavailable"
	CodeInternal          ErrorCode = "internal"
)

// Problem is one thing wrong with a configuration (named by Path) or with a
// pipeline parameter (named by Param, and by Arm for one arm of a paired
// configuration).
type Problem struct {
	// Path is a configuration key, e.g. processors::process_topk::k.
	Path    string `json:"path,omitempty"`
	Arm     string `json:"arm,omitempty"`
	Param   string `json:"param,omitempty"`
	Message string `json:"message"`
}
