// Package processmetrics is the data contract between the host_metrics process
// scraper and Phoenix's components: the names the scraper uses, how a process is
// identified, the readings the processors rank and aggregate by, and the marker
// attributes Phoenix's processors pass to each other.
//
// The scraper emits one ResourceMetrics per process. Identity lives on the
// resource (process.pid and friends), never on datapoint attributes. Cumulative
// points carry the process creation time as their start time, which is what
// guards against PID reuse.
package processmetrics // import "github.com/phoenix/platform/processors/contract/processmetrics"

// Resource attribute keys set by the host_metrics process scraper.
const (
	AttrPID            = "process.pid"
	AttrParentPID      = "process.parent_pid"
	AttrExecutableName = "process.executable.name"
	AttrExecutablePath = "process.executable.path"
	AttrCommand        = "process.command"
	AttrCommandLine    = "process.command_line"
	AttrOwner          = "process.owner"
	// AttrHostName partitions state when one collector receives several hosts.
	AttrHostName = "host.name"
)

// Metric names and datapoint attribute keys of the scraper's default metrics.
const (
	MetricCPUTime       = "process.cpu.time"
	MetricMemoryUsage   = "process.memory.usage"
	MetricMemoryVirtual = "process.memory.virtual"
	MetricDiskIO        = "process.disk.io"

	// AttrState is the CPU state attribute of process.cpu.time; newer semantic
	// conventions call it AttrCPUMode. Both are accepted everywhere.
	AttrState     = "state"
	AttrCPUMode   = "cpu.mode"
	AttrDirection = "direction"
)

// ScopeName is the instrumentation scope the real scraper stamps on its metrics.
const ScopeName = "github.com/open-telemetry/opentelemetry-collector-contrib/receiver/hostmetricsreceiver/internal/scraper/processscraper"

// SchemaURL is the schema URL the real scraper sets on each ResourceMetrics.
const SchemaURL = "https://opentelemetry.io/schemas/1.9.0"

// Marker attributes are resource attributes Phoenix's processors add for the
// processors after them. They are internal: process_rollup removes them from all
// it emits, and process_topk removes them when nothing after it needs them.
const (
	// MarkerCriticalRule holds the name of the process_critical rule that
	// matched. Processes carrying it are never dropped or rolled up.
	MarkerCriticalRule = "phoenix.critical.rule"
	// MarkerKept is set (to true) by process_topk with others: rollup on the
	// processes it keeps: the minority. process_rollup folds every other
	// non-critical process of a batch that carries it.
	MarkerKept = "phoenix.kept"
	// MarkerRollup (true) hands one process to process_rollup explicitly,
	// whatever the rest of its batch carries. process_topk no longer sets
	// it; process_rollup still honours it.
	MarkerRollup = "phoenix.rollup"
)

// Markers lists every marker attribute, for stripping.
var Markers = []string{MarkerCriticalRule, MarkerKept, MarkerRollup}
