package experiments // import "github.com/phoenix/platform/opamp-server/experiments"

import (
	"context"
	"encoding/json"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/store"
)

// Analysis returns the Analyzer the server uses: the experiment's measurement
// window, criteria and targets' samples as input to analysis.Analyze, priced
// with prices.
func Analysis(prices analysis.PriceTable) Analyzer {
	return func(_ context.Context, x Experiment, samples map[string][]store.Sample) ([]byte, bool, error) {
		in := analysis.Input{
			Mode: x.Spec.Mode, From: x.State.MeasureFrom, To: x.State.EndsAt,
			Criteria: analysis.Criteria{
				MinSeriesReduction:   x.Spec.SuccessCriteria.MinSeriesReduction,
				MinCriticalRetention: x.Spec.SuccessCriteria.MinCriticalRetention,
				MaxCPUIncrease:       x.Spec.SuccessCriteria.MaxCPUIncrease,
			},
			PriceModels: x.Spec.PriceModels,
			Prices:      prices,
		}
		for _, t := range x.State.Targets {
			variants := []string{t.Variant}
			if x.Spec.Mode == ModePaired {
				variants = []string{VariantBaseline, VariantCandidate}
			}
			in.Agents = append(in.Agents, analysis.AgentInput{InstanceUID: t.InstanceUID, Variants: variants, Samples: samples[t.InstanceUID]})
		}
		res, err := analysis.Analyze(in)
		if err != nil {
			return nil, false, err
		}
		raw, err := json.Marshal(res)
		return raw, res.Verdict.Pass, err
	}
}
