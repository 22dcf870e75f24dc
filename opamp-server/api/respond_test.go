package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// A response that cannot be encoded used to be sent as an empty 200: the
// status went out before the encoder failed on the NaN.
func TestUnencodableResponseIsAnInternalError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	env := newTestEnv(t, func(s *Settings) { s.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	h := env.api.wrap(route{pattern: "/ratio"}, func(w http.ResponseWriter, r *http.Request) {
		ok(w, r, http.StatusOK, map[string]float64{"ratio": math.NaN()}, "")
	})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, apitypes.Prefix+"/ratio", nil))

	res := response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	e := apiError(t, res, http.StatusInternalServerError, apitypes.CodeInternal)
	assert.Contains(t, e.Message, "could not be encoded")
	id := res.header.Get("X-Request-ID")
	assert.NotEmpty(t, id)
	assert.Contains(t, logs.String(), "api response could not be encoded")
	assert.Contains(t, logs.String(), "request_id="+id)
	assert.Contains(t, logs.String(), "NaN")
}

func TestResponsesAreEncodedWhole(t *testing.T) {
	t.Parallel()
	rec := httptest.NewRecorder()
	assert.NoError(t, writeJSON(rec, http.StatusCreated, map[string]int{"n": 1}))
	assert.Equal(t, http.StatusCreated, rec.Code)
	assert.Equal(t, "application/json", rec.Header().Get("Content-Type"))
	assert.JSONEq(t, `{"n": 1}`, rec.Body.String())

	rec = httptest.NewRecorder()
	assert.Error(t, writeJSON(rec, http.StatusOK, math.Inf(1)))
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.JSONEq(t, `{"error": {"code": "internal", "message": "internal error: the response could not be encoded"}}`, rec.Body.String())
}

// Reused encoders write exactly what a new indenting encoder writes, with
// nothing left over from a larger response before.
func TestReusedEncodersWriteTheSameBytes(t *testing.T) {
	t.Parallel()
	big := make([]apitypes.AgentView, 50)
	for i := range big {
		big[i] = apitypes.AgentView{Agent: apitypes.Agent{InstanceUID: fmt.Sprintf("agent-%d", i),
			Labels: map[string]string{"env": "<prod & co>"}}, Drift: apitypes.Drift{State: apitypes.DriftInSync}}
	}
	for _, v := range []any{big, map[string]int{"n": 1}, big[:1], "text", nil} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		require.NoError(t, enc.Encode(v))
		rec := httptest.NewRecorder()
		require.NoError(t, writeJSON(rec, http.StatusOK, v))
		assert.Equal(t, want.String(), rec.Body.String())
	}
}
