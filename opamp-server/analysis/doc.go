// Package analysis turns an A/B pipeline experiment's measurements into
// results: per-variant and per-agent figures from the collectors' cost_meter
// series, reductions with 95% confidence intervals, cost estimates from a
// price table, and a verdict with one reason per success criterion. It is
// pure: Analyze takes samples and returns results, no I/O and no clock.
//
// Every definition is documented in docs/experiment-results.md.
package analysis // import "github.com/phoenix/platform/opamp-server/analysis"
