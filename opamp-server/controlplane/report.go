package controlplane // import "github.com/phoenix/platform/opamp-server/controlplane"

import (
	"context"
	"errors"
	"io"
	"sort"
	"time"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/opamp-server/redact"
	"github.com/phoenix/platform/opamp-server/report"
)

// report writes an experiment's HTML report: its final results, or an
// interim analysis while it runs, or none yet with the reason.
func (s *Server) report(ctx context.Context, id string, w io.Writer) error {
	x, err := s.exps.Get(ctx, id)
	if err != nil {
		return err
	}
	data := report.Data{
		Experiment: report.Experiment{
			ID: x.ID, Name: x.Name, Description: x.Spec.Description, Mode: string(x.Spec.Mode), Status: string(x.Status),
			Selector: x.Spec.Targets.Selector, BaselinePipeline: x.Spec.Baseline.Name(), CandidatePipeline: x.Spec.Candidate.Pipeline,
			CreatedAt: x.CreatedAt, StartedAt: x.State.RunningSince, MeasureFrom: x.State.MeasureFrom,
			MeasureTo: x.State.EndsAt, FinishedAt: x.State.FinishedAt,
		},
		GeneratedAt: time.Now().UTC(),
	}
	for _, c := range x.Spec.Candidates {
		data.Experiment.Candidates = append(data.Experiment.Candidates, c.Name+": "+c.Pipeline)
	}
	for _, t := range x.State.Targets {
		name := t.InstanceUID
		if t.Host != "" {
			name += " (" + t.Host + ")"
		}
		data.Experiment.Targets = append(data.Experiment.Targets, name)
	}
	variants := make([]string, 0, len(x.State.Configs))
	for v := range x.State.Configs {
		variants = append(variants, v)
	}
	sort.Strings(variants)
	for _, v := range variants {
		name := v
		if v == apitypes.VariantBoth {
			name = "paired (baseline and candidate)"
		}
		data.Configs = append(data.Configs, report.Config{Name: name, YAML: redact.Config(x.State.Configs[v])})
	}
	data.Rollout = x.State.Rollout
	for _, e := range x.Events {
		data.Events = append(data.Events, report.Event{Time: e.Time, From: string(e.From), To: string(e.To), Cause: e.Cause})
	}
	res, err := s.exps.Results(ctx, id)
	switch {
	case err == nil:
		data.Results, data.Interim = &res.Results, !res.Final
	case errors.Is(err, experiments.ErrState), errors.Is(err, analysis.ErrInsufficientData):
		data.ResultsNote = err.Error()
	default:
		return err
	}
	if x.State.Error != "" {
		data.ResultsNote = x.State.Error
	}
	return report.Render(w, data)
}
