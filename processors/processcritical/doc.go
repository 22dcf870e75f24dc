//go:generate go tool mdatagen metadata.yaml

// Package processcritical implements the process_critical processor: it marks
// every process matched by a named rule as critical, recording the rule, so the
// processors after it never drop or roll the process up.
package processcritical // import "github.com/phoenix/platform/processors/processcritical"
