package costmeter // import "github.com/phoenix/platform/processors/costmeter"

import (
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/phoenix/platform/processors/contract/criticalrules"
)

// criticalCache remembers whether critical rules match a resource, keyed by
// the hash of its attributes (all a rule can look at), so rules run once per
// process rather than once per scrape. It is not safe for concurrent use.
type criticalCache struct {
	matcher *criticalrules.Matcher
	max     int
	entries map[uint64]*criticalEntry
}

type criticalEntry struct {
	critical bool
	lastSeen time.Duration
}

func newCriticalCache(matcher *criticalrules.Matcher, maxEntries int) *criticalCache {
	return &criticalCache{matcher: matcher, max: maxEntries, entries: make(map[uint64]*criticalEntry)}
}

// isCritical reports whether a rule matches the resource whose attributes
// hash to resource. When the cache is full the rules are run uncached.
func (c *criticalCache) isCritical(resource uint64, attrs pcommon.Map, now time.Duration) bool {
	if e, ok := c.entries[resource]; ok {
		e.lastSeen = now
		return e.critical
	}
	_, critical := c.matcher.Match(attrs)
	if len(c.entries) < c.max {
		c.entries[resource] = &criticalEntry{critical: critical, lastSeen: now}
	}
	return critical
}

// sweep forgets resources not seen for ttl.
func (c *criticalCache) sweep(now, ttl time.Duration) {
	for k, e := range c.entries {
		if now-e.lastSeen >= ttl {
			delete(c.entries, k)
		}
	}
}
