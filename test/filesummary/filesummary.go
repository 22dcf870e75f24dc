// Package filesummary summarises what a collector pipeline wrote with the file
// exporter (OTLP JSON, one export per line): how many processes and series it
// exported, which is what the demo and the end-to-end tests compare.
package filesummary // import "github.com/phoenix/platform/test/filesummary"

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"

	"github.com/phoenix/platform/processors/contract/criticalrules"
	"github.com/phoenix/platform/processors/contract/datapoints"
	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// Summary describes one pipeline's output.
type Summary struct {
	// Exports is the number of export batches (lines) read.
	Exports int `json:"exports"`
	// DataPoints is the total number of datapoints across all exports.
	DataPoints int `json:"datapoints"`
	// Series is the number of distinct series: resource attributes, metric
	// name and datapoint attributes.
	Series int `json:"series"`
	// Processes is the number of distinct processes (host and PID) exported
	// as their own resource.
	Processes int `json:"processes"`
	// ProcessResources counts process resources over all exports.
	ProcessResources int `json:"process_resources"`
	// AggregateResources counts non-process resources carrying
	// process.executable.name (process_rollup's groups) over all exports.
	AggregateResources int `json:"aggregate_resources"`
	// CriticalProcesses counts distinct processes matching the critical
	// rules given to Read, by rule.
	CriticalProcesses map[string]int `json:"critical_processes,omitempty"`
	// Metrics counts datapoints per metric name.
	Metrics map[string]int `json:"metrics"`
}

// ReadFile summarises a file exporter's output file. Critical processes are
// counted with matcher when it is not nil.
func ReadFile(path string, matcher *criticalrules.Matcher) (Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return Summary{}, err
	}
	defer f.Close()
	s, err := Read(f, matcher)
	if err != nil {
		return s, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Read summarises OTLP JSON lines from r.
func Read(r io.Reader, matcher *criticalrules.Matcher) (Summary, error) {
	s := Summary{Metrics: map[string]int{}}
	series := map[string]struct{}{}
	processes := map[processmetrics.Key]struct{}{}
	critical := map[string]map[processmetrics.Key]struct{}{}
	var u pmetric.JSONUnmarshaler
	br := bufio.NewReader(r)
	for lineNo := 1; ; lineNo++ {
		line, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			md, uerr := u.UnmarshalMetrics(line)
			if uerr != nil {
				return s, fmt.Errorf("line %d: %w", lineNo, uerr)
			}
			s.Exports++
			s.add(md, series, processes, critical, matcher)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return s, err
		}
	}
	s.Series, s.Processes = len(series), len(processes)
	if matcher != nil {
		s.CriticalProcesses = map[string]int{}
		for rule, keys := range critical {
			s.CriticalProcesses[rule] = len(keys)
		}
	}
	return s, nil
}

func (s *Summary) add(md pmetric.Metrics, series map[string]struct{}, processes map[processmetrics.Key]struct{},
	critical map[string]map[processmetrics.Key]struct{}, matcher *criticalrules.Matcher,
) {
	rms := md.ResourceMetrics()
	for i := 0; i < rms.Len(); i++ {
		rm := rms.At(i)
		res := rm.Resource()
		if r, ok := processmetrics.Read(rm); ok {
			s.ProcessResources++
			processes[r.Key] = struct{}{}
			if matcher != nil {
				if rule, hit := matcher.Match(res.Attributes()); hit {
					if critical[rule] == nil {
						critical[rule] = map[processmetrics.Key]struct{}{}
					}
					critical[rule][r.Key] = struct{}{}
				}
			}
		} else if _, ok := res.Attributes().Get(processmetrics.AttrExecutableName); ok {
			s.AggregateResources++
		}
		resKey := datapoints.Key(res.Attributes())
		sms := rm.ScopeMetrics()
		for j := 0; j < sms.Len(); j++ {
			ms := sms.At(j).Metrics()
			for k := 0; k < ms.Len(); k++ {
				m := ms.At(k)
				datapoints.ForEachAttributes(m, func(attrs pcommon.Map) {
					s.DataPoints++
					s.Metrics[m.Name()]++
					series[resKey+"|"+m.Name()+"|"+datapoints.Key(attrs)] = struct{}{}
				})
			}
		}
	}
}
