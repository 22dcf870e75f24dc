package controlplane // import "github.com/phoenix/platform/opamp-server/controlplane"

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenix/platform/opamp-server/analysis"
	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// experimentCollector exports phoenix_experiment_total{status} and, through
// analysis.Metrics, the results of completed experiments, read from the store
// at scrape time and cached briefly.
type experimentCollector struct {
	store store.Store
	log   *slog.Logger
	total *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	counts  map[apitypes.ExperimentStatus]int
	results map[string]apitypes.Results
}

func newExperimentCollector(st store.Store, log *slog.Logger) (*experimentCollector, *analysis.Metrics) {
	c := &experimentCollector{store: st, log: log, total: prometheus.NewDesc("phoenix_experiment_total",
		"Experiments by status.", []string{"status"}, nil)}
	return c, analysis.NewMetrics(func() map[string]apitypes.Results {
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
	for _, status := range apitypes.ExperimentStatuses() {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.GaugeValue, float64(c.counts[status]), string(status))
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
	counts, results := map[apitypes.ExperimentStatus]int{}, map[string]apitypes.Results{}
	page := store.Page{Limit: 1000}
	for {
		exps, next, err := c.store.ListExperiments(ctx, store.ExperimentFilter{}, page)
		if err != nil {
			c.log.Warn("experiment metrics: listing failed", "error", err)
			return
		}
		for _, e := range exps {
			counts[e.Status]++
			var st apitypes.ExperimentState
			if e.Status != apitypes.ExperimentCompleted || json.Unmarshal(e.State, &st) != nil || st.Results == nil {
				continue
			}
			results[e.ID] = *st.Results
		}
		if next == "" {
			break
		}
		page.After = next
	}
	c.counts, c.results, c.at = counts, results, time.Now()
}
