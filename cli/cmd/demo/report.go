package demo // import "github.com/phoenix/platform/cli/cmd/demo"

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"

	"github.com/phoenix/platform/cli/cmdutil"
	"github.com/phoenix/platform/pipelines/filesummary"
	"github.com/phoenix/platform/processors/criticalrules"
	"github.com/phoenix/platform/processors/processcritical"
)

// Report compares the two pipelines of a demo run.
type Report struct {
	Baseline filesummary.Summary `json:"baseline" yaml:"baseline"`
	Phoenix  filesummary.Summary `json:"phoenix" yaml:"phoenix"`
	// SeriesReduction is 1 - phoenix series / baseline series.
	SeriesReduction float64 `json:"series_reduction" yaml:"series_reduction"`
	// CriticalRetention is the share of the baseline's critical processes
	// that the phoenix pipeline exported.
	CriticalRetention float64 `json:"critical_retention" yaml:"critical_retention"`
}

func buildReport(dir string) (Report, error) {
	matcher, err := criticalrules.Compile(processcritical.DefaultRules())
	if err != nil {
		return Report{}, err
	}
	var r Report
	if r.Baseline, err = filesummary.ReadFile(filepath.Join(dir, "baseline.jsonl"), matcher); err != nil {
		return r, err
	}
	if r.Phoenix, err = filesummary.ReadFile(filepath.Join(dir, "phoenix.jsonl"), matcher); err != nil {
		return r, err
	}
	if r.Baseline.Exports == 0 {
		return r, fmt.Errorf("the collector exported nothing in %s: is the process scraper allowed to read /proc?", dir)
	}
	if r.Baseline.Series > 0 {
		r.SeriesReduction = 1 - float64(r.Phoenix.Series)/float64(r.Baseline.Series)
	}
	r.CriticalRetention = retention(r.Baseline.CriticalProcesses, r.Phoenix.CriticalProcesses)
	return r, nil
}

// retention is the share of critical processes, summed over rules, that the
// candidate kept; 1 when the baseline had none.
func retention(baseline, candidate map[string]int) float64 {
	total, kept := 0, 0
	for rule, n := range baseline {
		total += n
		kept += min(n, candidate[rule])
	}
	if total == 0 {
		return 1
	}
	return float64(kept) / float64(total)
}

func printReport(opts *Options, r Report) error {
	if opts.Format != cmdutil.FormatTable {
		return cmdutil.WriteStructured(opts.IO.Out, opts.Format, r)
	}
	w := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PIPELINE\tEXPORTS\tPROCESSES\tAGGREGATES\tSERIES\tDATAPOINTS\tCRITICAL")
	for _, row := range []struct {
		name string
		s    filesummary.Summary
	}{{"baseline", r.Baseline}, {"phoenix", r.Phoenix}} {
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", row.name, row.s.Exports, row.s.Processes,
			row.s.AggregateResources, row.s.Series, row.s.DataPoints, sum(row.s.CriticalProcesses))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(opts.IO.Out, "\nSeries reduction: %.1f%%   Critical processes retained: %.1f%%\n",
		100*r.SeriesReduction, 100*r.CriticalRetention)
	return err
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
