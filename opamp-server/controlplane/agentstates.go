package controlplane // import "github.com/phoenix/platform/opamp-server/controlplane"

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/phoenix/platform/opamp-server/apitypes"
	"github.com/phoenix/platform/opamp-server/store"
)

// agentStateCollector exports phoenix_agents{online, config_status} from the
// store at scrape time, cached briefly so frequent scrapes stay cheap.
type agentStateCollector struct {
	store store.Store
	desc  *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	counts  map[[2]string]int
	lastErr error
}

func newAgentStateCollector(st store.Store) *agentStateCollector {
	return &agentStateCollector{store: st, desc: prometheus.NewDesc("phoenix_agents",
		"Known agents by connection state and remote-config status.", []string{"online", "config_status"}, nil)}
}

func (c *agentStateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *agentStateCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > 10*time.Second {
		c.counts, c.lastErr = c.count()
		c.at = time.Now()
	}
	if c.lastErr != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, c.lastErr)
		return
	}
	for k, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
}

func (c *agentStateCollector) count() (map[[2]string]int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts := map[[2]string]int{}
	page := store.Page{Limit: 1000}
	for {
		agents, next, err := c.store.ListAgents(ctx, store.AgentFilter{}, page)
		if err != nil {
			return nil, err
		}
		for _, a := range agents {
			online := "false"
			if a.Online {
				online = "true"
			}
			status := a.RemoteConfig.Status
			if status == "" {
				status = apitypes.ConfigStatusUnset
			}
			counts[[2]string{online, string(status)}]++
		}
		if next == "" {
			return counts, nil
		}
		page.After = next
	}
}
