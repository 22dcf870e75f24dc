package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/phoenix/platform/opamp-server/store"
)

// Envelope wraps every successful response.
type Envelope struct {
	Data any  `json:"data"`
	Meta Meta `json:"meta"`
}

// Meta describes a response.
type Meta struct {
	RequestID string    `json:"request_id"`
	Timestamp time.Time `json:"timestamp"`
	// NextCursor is set on listings with more pages.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error Error `json:"error"`
}

// Error describes what went wrong. Code is stable and machine-readable.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// Error codes.
const (
	CodeBadRequest        = "bad_request"
	CodeUnauthorized      = "unauthorized"
	CodeForbidden         = "forbidden"
	CodeNotFound          = "not_found"
	CodeConflict          = "conflict"
	CodeInvalid           = "invalid_config"
	CodeInvalidParameters = "invalid_parameters"
	CodeUnavailable       = "unavailable"
	CodeInternal          = "internal"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// ok writes data in the envelope.
func ok(w http.ResponseWriter, r *http.Request, status int, data any, next string) {
	writeJSON(w, status, Envelope{Data: data, Meta: Meta{RequestID: requestID(r.Context()), Timestamp: time.Now().UTC(), NextCursor: next}})
}

// fail writes an error body.
func fail(w http.ResponseWriter, status int, code, message string, details any) {
	writeJSON(w, status, ErrorBody{Error: Error{Code: code, Message: message, Details: details}})
}

// storeError maps store errors onto HTTP.
func storeError(w http.ResponseWriter, err error, what string) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, CodeNotFound, what+" not found", nil)
	case errors.Is(err, store.ErrConflict):
		fail(w, http.StatusConflict, CodeConflict, err.Error(), nil)
	case errors.Is(err, store.ErrInvalid):
		fail(w, http.StatusBadRequest, CodeBadRequest, err.Error(), nil)
	default:
		fail(w, http.StatusServiceUnavailable, CodeUnavailable, "store unavailable", nil)
	}
}

// decodeBody reads a JSON request body strictly.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(w, http.StatusBadRequest, CodeBadRequest, "request body: "+err.Error(), nil)
		return false
	}
	// One JSON value and nothing after it: a second object would otherwise
	// be silently ignored.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		fail(w, http.StatusBadRequest, CodeBadRequest, "request body: unexpected data after the JSON value", nil)
		return false
	}
	return true
}
