//go:generate go tool mdatagen metadata.yaml

// Package processz implements the processz extension: it receives the
// decisions Phoenix's processors make about each process (as a
// decision.Recorder) and serves them on /processz as an HTML table or JSON,
// answering "why was my process dropped?".
package processz // import "github.com/phoenix/platform/extensions/processz"
