// Package apitypes is the control plane's REST API contract: every request
// and response body, the enumerations they carry and the experiment
// lifecycle. The server, its Go client (apiclient) and the phoenix CLI share
// these types, and the OpenAPI document's schemas are generated from them
// (opamp-server/api/internal/openapigen), so the contract is written once.
//
// The package imports only the standard library: a client links nothing of
// the server or the collector.
package apitypes // import "github.com/phoenix/platform/opamp-server/apitypes"
