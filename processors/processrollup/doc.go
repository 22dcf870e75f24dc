//go:generate go tool mdatagen metadata.yaml

// Package processrollup implements the process_rollup processor: it folds the
// processes process_topk hands over (marker phoenix.rollup) into one synthetic
// resource per group, keeping its own monotonic counters so that members
// coming and going never look like a counter reset, and removes Phoenix's
// marker attributes from everything it emits.
package processrollup // import "github.com/phoenix/platform/processors/processrollup"
