package api // import "github.com/phoenix/platform/opamp-server/api"

// openapi.json's schemas are generated from the shared wire types
// (opamp-server/apitypes), and docs/api.md from openapi.json; make generate
// (and so make check-generated) keeps the three in step.
//go:generate go run ./internal/openapigen -doc openapi.json -src ../apitypes
//go:generate go run ./internal/apidoc -o ../../docs/api.md
