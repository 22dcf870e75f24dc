package chaintest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/filterprocessor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// newKeepListFilter starts a contrib filter processor that keeps only the
// processes named in names (and every resource that is not a process).
func newKeepListFilter(tb testing.TB, names []string, next consumer.Metrics) processor.Metrics {
	tb.Helper()
	return newFilter(tb, keepListCondition(names), next)
}

// newPIDFilter starts a contrib filter processor that keeps only the
// processes whose PID is in pids (and every resource that is not a
// process).
func newPIDFilter(tb testing.TB, pids []int64, next consumer.Metrics) processor.Metrics {
	tb.Helper()
	return newFilter(tb, pidCondition(pids), next)
}

// newFilter starts a contrib filter processor dropping the resources that
// match the OTTL condition.
func newFilter(tb testing.TB, condition string, next consumer.Metrics) processor.Metrics {
	tb.Helper()
	f := filterprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(tb, confmap.NewFromStringMap(map[string]any{
		"error_mode":        "ignore",
		"metric_conditions": []any{condition},
	}).Unmarshal(cfg))
	require.NoError(tb, confmap.Validate(cfg))
	filter, err := f.CreateMetrics(context.Background(), processortest.NewNopSettings(f.Type()), cfg, next)
	require.NoError(tb, err)
	require.NoError(tb, filter.Start(context.Background(), componenttest.NewNopHost()))
	tb.Cleanup(func() { require.NoError(tb, filter.Shutdown(context.Background())) })
	return filter
}

// exportedNames lists the executable names of the processes a batch
// exports as their own resources, sorted and without duplicates.
func exportedNames(md pmetric.Metrics) []string {
	var names []string
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if res := rms.At(i).Resource(); processmetrics.IsProcess(res) {
			names = append(names, stringAttr(res.Attributes(), processmetrics.AttrExecutableName))
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// exportedPIDs lists the PIDs of the processes a batch exports as their own
// resources, sorted.
func exportedPIDs(md pmetric.Metrics) []int64 {
	var pids []int64
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		if pid, ok := processmetrics.PID(rms.At(i).Resource()); ok {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// pidCondition is the OTTL condition that drops every process resource
// whose PID is not in pids.
func pidCondition(pids []int64) string {
	const pid = `resource.attributes["` + processmetrics.AttrPID + `"]`
	terms := make([]string, len(pids))
	for i, p := range pids {
		terms[i] = pid + " == " + strconv.FormatInt(p, 10)
	}
	return fmt.Sprintf(`%s != nil and not (%s)`, pid, strings.Join(terms, " or "))
}

// keepListCondition is the OTTL condition that drops every process resource
// whose executable name is not in names.
func keepListCondition(names []string) string {
	const exe = `resource.attributes["` + processmetrics.AttrExecutableName + `"]`
	terms := make([]string, len(names))
	for i, n := range names {
		terms[i] = exe + " == " + strconv.Quote(n)
	}
	return fmt.Sprintf(`resource.attributes["%s"] != nil and not (%s)`, processmetrics.AttrPID, strings.Join(terms, " or "))
}

// TestKeepListFilterIsTheChainsStaticEquivalent checks what
// BenchmarkFilterKeepList compares against: on the scrape after the warm-up,
// the filter keeps every process the chain exports, and only processes
// bearing one of those names.
func TestKeepListFilterIsTheChainsStaticEquivalent(t *testing.T) {
	host := benchHost(t)
	sink := &consumertest.MetricsSink{}
	c := newChain(t, chainOptions{topk: topkRollup}, sink)
	for n := 1; n <= warmUpScrapes; n++ {
		require.NoError(t, c.in.ConsumeMetrics(t.Context(), host.scrape(scrapeAt(n))))
	}
	names := exportedNames(sink.AllMetrics()[warmUpScrapes-1])
	filtered := &consumertest.MetricsSink{}
	filter := newKeepListFilter(t, names, filtered)

	md := host.scrape(scrapeAt(warmUpScrapes + 1))
	clone := pmetric.NewMetrics()
	md.CopyTo(clone)
	require.NoError(t, c.in.ConsumeMetrics(t.Context(), md))
	require.NoError(t, filter.ConsumeMetrics(t.Context(), clone))

	chainOut := indexBatch(sink.AllMetrics()[warmUpScrapes])
	filterOut := indexBatch(filtered.AllMetrics()[0])
	require.NotEmpty(t, chainOut.procs)
	for id := range chainOut.procs {
		assert.Contains(t, filterOut.procs, id, "the filter dropped a process the chain kept")
	}
	for id, rm := range filterOut.procs {
		assert.Contains(t, names, stringAttr(rm.Resource().Attributes(), processmetrics.AttrExecutableName), "the filter kept %v", id)
	}
	assert.Less(t, len(filterOut.procs), benchProcesses, "the filter must drop processes")
	t.Logf("keep-list of %d names: the chain exported %d processes, the filter kept %d of %d",
		len(names), len(chainOut.procs), len(filterOut.procs), benchProcesses)
}

// TestPIDFilterHasTheChainsOutput checks what BenchmarkFilterKeepPIDs
// compares against: configured with the PIDs the chain exported for a
// scrape, the filter keeps exactly those processes of that scrape.
func TestPIDFilterHasTheChainsOutput(t *testing.T) {
	host := benchHost(t)
	sink := &consumertest.MetricsSink{}
	c := newChain(t, chainOptions{topk: topkRollup}, sink)
	for n := 1; n <= warmUpScrapes; n++ {
		require.NoError(t, c.in.ConsumeMetrics(t.Context(), host.scrape(scrapeAt(n))))
	}
	md := host.scrape(scrapeAt(warmUpScrapes + 1))
	clone := pmetric.NewMetrics()
	md.CopyTo(clone)
	require.NoError(t, c.in.ConsumeMetrics(t.Context(), md))
	chainOut := indexBatch(sink.AllMetrics()[warmUpScrapes])
	require.NotEmpty(t, chainOut.procs)

	filtered := &consumertest.MetricsSink{}
	filter := newPIDFilter(t, exportedPIDs(sink.AllMetrics()[warmUpScrapes]), filtered)
	require.NoError(t, filter.ConsumeMetrics(t.Context(), clone))
	filterOut := indexBatch(filtered.AllMetrics()[0])
	assert.ElementsMatch(t, slices.Collect(maps.Keys(chainOut.procs)), slices.Collect(maps.Keys(filterOut.procs)),
		"the filter keeps exactly the processes the chain exports")
	t.Logf("the chain exported %d processes, the PID filter kept %d of %d", len(chainOut.procs), len(filterOut.procs), benchProcesses)
}
