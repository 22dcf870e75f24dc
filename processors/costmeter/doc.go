//go:generate go tool mdatagen metadata.yaml

// Package costmeter implements the cost_meter processor: placed last in a
// pipeline, it passes data through unchanged and measures what the pipeline
// exports (datapoints, OTLP bytes, active series, processes and the critical
// processes among them) as the collector's own telemetry, labelled with the
// pipeline's experiment variant, with the fidelity figures: what it attributes
// to processes versus rolls up, and the notable processes it missed compared
// with the reference variant of the same collector. Its figures are the ground truth of A/B
// experiment results.
package costmeter // import "github.com/phoenix/platform/processors/costmeter"
