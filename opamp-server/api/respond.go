package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// writeJSON encodes v before writing anything: once the status is sent it
// cannot change, and a value that does not encode (a NaN float) would become
// an empty 200. Such a value is answered with 500 and the API's error body
// instead; the encoding error is returned for the caller to log.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	e := encoders.Get().(*encoder)
	defer e.release()
	err := e.encode(v)
	if err != nil {
		status = http.StatusInternalServerError
		_ = e.encode(apitypes.ErrorBody{Error: apitypes.Error{Code: apitypes.CodeInternal,
			Message: "internal error: the response could not be encoded"}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(e.buf.Bytes()) // Write does not keep the bytes
	return err
}

// encoder is an indenting JSON encoder and its output, reused: a page of
// 1,000 agents is megabytes, and growing new buffers to that size for every
// response (the encoder's indenting one too) cost more than encoding.
type encoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := &encoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetIndent("", "  ")
	return e
}}

// maxPooledEncoder bounds the output an encoder keeps for reuse, so a rare
// huge response does not stay in memory.
const maxPooledEncoder = 16 << 20

// encode replaces the output with v's JSON. A bytes.Buffer never fails a
// write, so the encoder's error is never sticky.
func (e *encoder) encode(v any) error {
	e.buf.Reset()
	return e.enc.Encode(v)
}

func (e *encoder) release() {
	if e.buf.Cap() <= maxPooledEncoder {
		encoders.Put(e)
	}
}

// ok writes data in the envelope.
func ok(w http.ResponseWriter, r *http.Request, status int, data any, next string) {
	ctx := r.Context()
	err := writeJSON(w, status, apitypes.Envelope[any]{Data: data, Meta: apitypes.Meta{RequestID: requestID(ctx), Timestamp: time.Now().UTC(), NextCursor: next}})
	if err != nil {
		loggerFrom(ctx).Error("api response could not be encoded", "path", r.URL.Path, "error", err, "request_id", requestID(ctx))
	}
}

// fail writes an error body. Its fields are strings, which always encode.
func fail(w http.ResponseWriter, status int, code apitypes.ErrorCode, message string, details []apitypes.Problem) {
	_ = writeJSON(w, status, apitypes.ErrorBody{Error: apitypes.Error{Code: code, Message: message, Details: details}})
}

// loggerFrom is the API's logger, which wrap puts in every request's context.
func loggerFrom(ctx context.Context) *slog.Logger {
	if l, found := ctx.Value(keyLogger).(*slog.Logger); found {
		return l
	}
	return slog.New(slog.DiscardHandler)
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
