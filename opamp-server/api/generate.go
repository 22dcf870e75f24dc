package api // import "github.com/phoenix/platform/opamp-server/api"

// docs/api.md is the reference generated from openapi.json; make generate
// (and so make check-generated) keeps the two in step.
//go:generate go run ./internal/apidoc -o ../../docs/api.md
