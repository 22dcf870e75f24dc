//go:generate go tool mdatagen metadata.yaml

// Package processtopk implements the process_topk processor: per host and
// scrape it keeps the k processes with the highest CPU rate and memory (the
// union over the ranking keys), holds processes that fall out of the top k for
// a few scrapes so membership does not flap, and marks the rest for
// process_rollup or drops them. Processes marked critical by process_critical
// are always kept.
package processtopk // import "github.com/phoenix/platform/processors/processtopk"
