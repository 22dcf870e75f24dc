package apitypes

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Monthly is the candidate's monthly cost for all targets under the first
// price model of its costs (whose variants are the baseline, then the
// candidate); false without one. The ranking, the CLI and the report all
// read it so.
func (c CandidateResults) Monthly() (float64, bool) {
	if len(c.Costs) == 0 || len(c.Costs[0].Variants) < 2 {
		return 0, false
	}
	return c.Costs[0].Variants[1].Monthly, true
}

// PipelineText is a pipeline with its parameters in key order, as the CLI
// and the report show a candidate: "topk-rollup k=10 rank_by=[cpu,memory]".
func PipelineText(pipeline string, params map[string]any) string {
	parts := []string{pipeline}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		parts = append(parts, k+"="+paramText(params[k]))
	}
	return strings.Join(parts, " ")
}

func paramText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = paramText(e)
		}
		return "[" + strings.Join(items, ",") + "]"
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}
