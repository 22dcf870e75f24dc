// Package catalog is Phoenix's pipelines catalog: versioned templates of
// complete phoenix-collector configurations with typed, documented
// parameters. The control plane renders a pipeline per agent with Render, or
// two pipelines into one A/B configuration with RenderPaired; every rendered
// configuration is validated with the distribution's factories before it is
// returned.
//
// Templates are data, embedded from templates/: shared/collector.yaml holds
// the shared parameters and components (receivers, shared processors,
// destination, own telemetry), shared/components.yaml the processors
// pipelines chain, and one <name>.yaml per pipeline its metadata and chain.
// docs/pipelines.md describes every pipeline and parameter.
package catalog // import "github.com/phoenix/platform/pipelines/catalog"
