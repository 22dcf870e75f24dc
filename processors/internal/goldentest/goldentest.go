// Package goldentest compares processor output with golden files
// (testdata/<case>/expected.yaml). Regenerating them is a deliberate act:
//
//	go test ./processors/... -run Golden -update-golden
package goldentest // import "github.com/phoenix/platform/processors/internal/goldentest"

import (
	"flag"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/golden"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pmetric"
)

var update = flag.Bool("update-golden", false, "rewrite golden expected files from actual output")

// Read loads a golden metrics file, failing the test if it cannot.
func Read(tb testing.TB, path string) pmetric.Metrics {
	tb.Helper()
	md, err := golden.ReadMetrics(path)
	require.NoError(tb, err, "reading %s", path)
	return md
}

// Compare checks actual against the golden file at path, or rewrites the file
// when -update-golden is given.
func Compare(tb testing.TB, path string, actual pmetric.Metrics, opts ...pmetrictest.CompareMetricsOption) {
	tb.Helper()
	if *update {
		// Timestamps are kept as they are: processors' start-time handling
		// is part of what the goldens pin down.
		require.NoError(tb, golden.WriteMetricsToFile(path, actual, golden.SkipMetricTimestampNormalization()))
		tb.Errorf("updated %s: review the diff, then run the tests without -update-golden", path)
		return
	}
	expected := Read(tb, path)
	// Golden files are written sorted; resource order carries no meaning.
	opts = append([]pmetrictest.CompareMetricsOption{pmetrictest.IgnoreResourceMetricsOrder()}, opts...)
	require.NoError(tb, pmetrictest.CompareMetrics(expected, actual, opts...), "output differs from %s", path)
}
