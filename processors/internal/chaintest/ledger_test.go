package chaintest

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/internal/ledger"
)

// The conservation ledger is processors/internal/ledger, shared with
// process_rollup's property tests. The chain's output is read as an
// exporter sees it: a rollup is a resource without process.pid but with
// process.executable.name.

// counterSnapshot collects the cumulative monotonic points of a batch's
// processes and rollups.
func counterSnapshot(md pmetric.Metrics) ledger.Snapshot {
	return ledger.Counters(md, ledger.IsAggregate, false)
}

// rollupSnapshot collects the cumulative monotonic points of a batch's
// rollups only.
func rollupSnapshot(md pmetric.Metrics) ledger.Snapshot {
	return ledger.Counters(md, ledger.IsAggregate, true)
}

// isAggregate reports whether a resource is one of process_rollup's groups.
func isAggregate(rm pmetric.ResourceMetrics) bool { return ledger.IsAggregate(rm) }

func stringAttr(attrs pcommon.Map, key string) string {
	if v, ok := attrs.Get(key); ok {
		return v.Str()
	}
	return ""
}
