package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
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
	writeJSON(w, status, apitypes.Envelope[any]{Data: data, Meta: apitypes.Meta{RequestID: requestID(r.Context()), Timestamp: time.Now().UTC(), NextCursor: next}})
}

// fail writes an error body.
func fail(w http.ResponseWriter, status int, code apitypes.ErrorCode, message string, details []apitypes.Problem) {
	writeJSON(w, status, apitypes.ErrorBody{Error: apitypes.Error{Code: code, Message: message, Details: details}})
}

// storeError maps store errors onto HTTP.
func storeError(w http.ResponseWriter, err error, what string) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, apitypes.CodeNotFound, what+" not found", nil)
	case errors.Is(err, store.ErrConflict):
		fail(w, http.StatusConflict, apitypes.CodeConflict, err.Error(), nil)
	case errors.Is(err, store.ErrInvalid):
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, err.Error(), nil)
	default:
		fail(w, http.StatusServiceUnavailable, apitypes.CodeUnavailable, "store unavailable", nil)
	}
}

// decodeBody reads a JSON request body strictly.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "request body: "+err.Error(), nil)
		return false
	}
	// One JSON value and nothing after it: a second object would otherwise
	// be silently ignored.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		fail(w, http.StatusBadRequest, apitypes.CodeBadRequest, "request body: unexpected data after the JSON value", nil)
		return false
	}
	return true
}
