package server // import "github.com/phoenix/platform/opamp-server/server"

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/experiments"
	"github.com/phoenix/platform/opamp-server/store"
)

// analyzer adapts the analysis package to the controller: it turns an
// experiment and its targets' samples into analysis input.
func analyzer(prices analysis.PriceTable) experiments.Analyzer {
	return func(_ context.Context, x experiments.Experiment, samples map[string][]store.Sample) ([]byte, bool, error) {
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
			if x.Spec.Mode == experiments.ModePaired {
				variants = []string{experiments.VariantBaseline, experiments.VariantCandidate}
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

// experimentCollector exports phoenix_experiment_total{status} and, through
// analysis.Metrics, the results of completed experiments, read from the store
// at scrape time and cached briefly.
type experimentCollector struct {
	store store.Store
	log   *slog.Logger
	total *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	counts  map[string]int
	results map[string]analysis.Results
}

func newExperimentCollector(st store.Store, log *slog.Logger) (*experimentCollector, *analysis.Metrics) {
	c := &experimentCollector{store: st, log: log, total: prometheus.NewDesc("phoenix_experiment_total",
		"Experiments by status.", []string{"status"}, nil)}
	return c, analysis.NewMetrics(func() map[string]analysis.Results {
		c.refresh()
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.results
	})
}

func (c *experimentCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.total }

func (c *experimentCollector) Collect(ch chan<- prometheus.Metric) {
	c.refresh()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, status := range []string{store.ExperimentPending, store.ExperimentDeploying, store.ExperimentRunning,
		store.ExperimentAnalyzing, store.ExperimentCompleted, store.ExperimentFailed, store.ExperimentCancelled} {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(c.counts[status]), status)
	}
}

func (c *experimentCollector) refresh() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) < 10*time.Second && c.counts != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, results := map[string]int{}, map[string]analysis.Results{}
	page := store.Page{Limit: 1000}
	for {
		exps, next, err := c.store.ListExperiments(ctx, store.ExperimentFilter{}, page)
		if err != nil {
			c.log.Warn("experiment metrics: listing failed", "error", err)
			return
		}
		for _, e := range exps {
			counts[e.Status]++
			var st experiments.State
			if e.Status != store.ExperimentCompleted || json.Unmarshal(e.State, &st) != nil || len(st.Results) == 0 {
				continue
			}
			var r analysis.Results
			if err := json.Unmarshal(st.Results, &r); err == nil {
				results[e.ID] = r
			}
		}
		if next == "" {
			break
		}
		page.After = next
	}
	c.counts, c.results, c.at = counts, results, time.Now()
}
