package chaintest

import (
	"context"
	"fmt"
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

	"github.com/phoenix/platform/processors/processmetrics"
)

// newKeepListFilter starts a contrib filter processor that keeps only the
// processes named in names (and every resource that is not a process).
func newKeepListFilter(tb testing.TB, names []string, next consumer.Metrics) processor.Metrics {
	tb.Helper()
	f := filterprocessor.NewFactory()
	cfg := f.CreateDefaultConfig()
	require.NoError(tb, confmap.NewFromStringMap(map[string]any{
		"error_mode":        "ignore",
		"metric_conditions": []any{keepListCondition(names)},
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
