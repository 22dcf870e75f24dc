// Package bodylimit reads what an agent posts over HTTP (an OpAMP poll, an
// own-telemetry export) within two bounds: the body as sent, and the body
// inflated, so a gzip bomb of any size costs at most the second.
package bodylimit // import "github.com/phoenix/platform/opamp-server/internal/bodylimit"

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/phoenix/platform/opamp-server/servermetrics"
)

// Violation is a body refused: the reason counted, the HTTP status to
// answer and what the sender is told.
type Violation struct {
	Reason string
	Status int
	Detail string
}

// Read reads r's body within maxSent bytes as sent and maxInflated bytes
// after gzip decompression (Content-Encoding gzip, identity or none),
// inflating itself and stopping at the bound.
func Read(r *http.Request, maxSent int64, maxInflated int) ([]byte, *Violation) {
	if r.ContentLength > maxSent {
		return nil, &Violation{servermetrics.ReasonBodyTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body of %d bytes is over the limit of %d", r.ContentLength, maxSent)}
	}
	raw := http.MaxBytesReader(nil, r.Body, maxSent)
	var src io.Reader = raw
	switch enc := strings.TrimSpace(r.Header.Get("Content-Encoding")); {
	case enc == "", strings.EqualFold(enc, "identity"):
	case strings.EqualFold(enc, "gzip"):
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, readError(err, maxSent)
		}
		defer zr.Close()
		src = zr
	default:
		return nil, &Violation{servermetrics.ReasonBadEncoding, http.StatusUnsupportedMediaType,
			fmt.Sprintf("unsupported Content-Encoding %q (gzip or none)", enc)}
	}
	body, err := io.ReadAll(io.LimitReader(src, int64(maxInflated)+1))
	if err != nil {
		return nil, readError(err, maxSent)
	}
	if len(body) > maxInflated {
		return nil, &Violation{servermetrics.ReasonBodyTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body inflates to more than the limit of %d bytes", maxInflated)}
	}
	return body, nil
}

func readError(err error, maxSent int64) *Violation {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &Violation{servermetrics.ReasonBodyTooLarge, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("body is over the limit of %d bytes", maxSent)}
	}
	return &Violation{servermetrics.ReasonBadEncoding, http.StatusBadRequest, "reading gzip body: " + err.Error()}
}
