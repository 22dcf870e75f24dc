//go:generate go tool mdatagen metadata.yaml

// Package nopreceiver implements the nop receiver, which receives nothing.
//
// The upstream OpAMP supervisor detects the collector's
// service.AllowNoPipelines feature gate by running "featuregate" and reading
// its output, which races with the child's exit: under load the detection can
// fail, and the supervisor then bootstraps with a nop receiver. The upstream
// nop receiver is not available at the pinned release, so the distribution
// carries this one and bootstrap never depends on that race.
package nopreceiver // import "github.com/phoenix/platform/receivers/nopreceiver"
