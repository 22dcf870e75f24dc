package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"slices"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
)

// Analysis returns the Analyzer the server uses: the experiment's measurement
// window, criteria and targets' samples as input to analysis.Analyze (or
// AnalyzeCandidates for several candidates), priced with prices.
func Analysis(prices analysis.PriceTable) Analyzer {
	return func(_ context.Context, x Experiment, samples map[string][]apitypes.Sample) (apitypes.Results, error) {
		in := analysis.Input{
			Mode: x.Spec.Mode, From: x.State.MeasureFrom, To: x.State.EndsAt,
			Criteria:    x.Spec.SuccessCriteria,
			PriceModels: x.Spec.PriceModels,
			Prices:      prices,
		}
		// A paired agent ran the baseline and every candidate, under its
		// name ("candidate" for the single form).
		paired := append([]string{apitypes.VariantBaseline}, x.Spec.CandidateNames()...)
		for _, t := range x.State.Targets {
			variants := []string{t.Variant}
			if x.Spec.Mode == apitypes.ModePaired {
				variants = slices.Clone(paired)
			}
			in.Agents = append(in.Agents, analysis.AgentInput{InstanceUID: t.InstanceUID, Variants: variants, Samples: samples[t.InstanceUID]})
		}
		return analysis.AnalyzeCandidates(in, x.Spec.Candidates)
	}
}
