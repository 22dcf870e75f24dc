//go:generate go tool mdatagen metadata.yaml

// Package processsim implements the process_sim receiver: it emits a
// simulated host's process population, chosen by a load-simulation profile
// (receivers/processsim/profiles), exactly as the host_metrics process scraper reports a
// real one, so Phoenix's processors can be tested, benchmarked and demonstrated
// at any scale without the host to match.
package processsim // import "github.com/phoenix/platform/receivers/processsim"
