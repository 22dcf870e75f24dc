// Package report renders an experiment's results as one self-contained HTML
// file: inline CSS, inline SVG charts drawn here, no script and no external
// asset, so it can be mailed, archived or opened offline. Every string from
// the experiment is escaped by html/template.
package report // import "github.com/phoenix/platform/opamp-server/report"

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"time"

	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Data is everything a report shows. Zero times are shown as "—".
type Data struct {
	Experiment Experiment
	// Results are the analysis; nil when there are none (yet), with
	// ResultsNote saying why.
	Results     *apitypes.Results
	ResultsNote string
	// Interim marks results of a running experiment, not final ones.
	Interim bool
	// Configs are the configurations the experiment deployed: baseline and
	// candidate in split mode, the combined one in paired mode.
	Configs []Config
	// Rollout is the candidate's progressive promotion, nil before one.
	Rollout *apitypes.Rollout
	// Events are the lifecycle events, oldest first.
	Events []Event
	// GeneratedAt stamps the report; zero leaves the stamp out.
	GeneratedAt time.Time
}

// Experiment is the experiment's metadata.
type Experiment struct {
	ID          string
	Name        string
	Description string
	Mode        string
	Status      string
	// Selector is the targets' label selector; Targets the agents it chose
	// (instance UIDs or host names).
	Selector string
	Targets  []string
	// Pipelines compared, as the spec names them.
	BaselinePipeline  string
	CandidatePipeline string
	// Candidates are the candidates of an experiment with several, each as
	// "name: pipeline"; CandidatePipeline is then empty.
	Candidates []string
	CreatedAt  time.Time
	StartedAt  time.Time
	// MeasureFrom and MeasureTo bound the measurement window.
	MeasureFrom time.Time
	MeasureTo   time.Time
	FinishedAt  time.Time
}

// Config is one deployed collector configuration.
type Config struct {
	// Name says which it is: "baseline", "candidate", "paired".
	Name string
	YAML string
}

// Event is one lifecycle event: a status transition (From → To) or a note
// (From and To empty).
type Event struct {
	Time  time.Time
	From  string
	To    string
	Cause string
}

//go:embed report.html.tmpl
var pageTemplate string

// candidatesTemplate defines the section of an experiment with several
// candidates.
//
//go:embed candidates.html.tmpl
var candidatesTemplate string

var page = template.Must(template.Must(template.New("report").Funcs(funcs).Parse(pageTemplate)).Parse(candidatesTemplate))

// view is what the template renders: the data plus the charts.
type view struct {
	Data
	Charts []chart
	// Candidates rank the candidates of an experiment with several; nil
	// for one.
	Candidates *candidatesView
}

// Render writes the report. Nothing is written when rendering fails.
func Render(w io.Writer, data Data) error {
	v := view{Data: data}
	if r := data.Results; r != nil {
		v.Charts = charts(r)
		v.Candidates = newCandidatesView(r)
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err := buf.WriteTo(w)
	return err
}
