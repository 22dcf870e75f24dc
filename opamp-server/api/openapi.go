package api // import "github.com/phoenix/platform/opamp-server/api"

import (
	_ "embed"
	"net/http"
)

// openAPIDocument describes the API (OpenAPI 3.0). A test checks that its
// paths and methods are exactly the registered routes.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns the OpenAPI document.
func OpenAPI() []byte { return openAPIDocument }

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}
