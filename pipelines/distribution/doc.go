// Package distribution is the phoenix-collector distribution in process: the
// factories of every component in builder-config.yaml (components_generated.go,
// written by `make generate` from OCB's output) and validation of collector
// configurations against them, exactly as the collector validates at startup.
package distribution // import "github.com/phoenix/platform/pipelines/distribution"
