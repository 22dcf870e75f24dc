package distribution

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/confmap"
)

// hostMetricsTypes are the host_metrics receiver's type and its old alias.
var hostMetricsTypes = map[string]bool{"host_metrics": true, "hostmetrics": true}

// hostRootConverter makes validation independent of the validating host's
// filesystem. host_metrics checks its root_path exists (os.Stat) and, in a
// process-wide variable, that every configuration it ever sees uses the same
// root: validated as is, "/hostfs" of a DaemonSet's configuration fails on
// the server, and a server that validated configurations with two roots
// would refuse the second for good. The root is the agent's host's; the
// collector checks it there when it starts. Validation keeps the checks that
// do not depend on the host: roots are absolute and equal within one
// configuration, then removes them before the receivers are built.
func hostRootConverter(confmap.ConverterSettings) confmap.Converter { return hostRootConv{} }

type hostRootConv struct{}

func (hostRootConv) Convert(_ context.Context, conf *confmap.Conf) error {
	receivers, ok := conf.Get("receivers").(map[string]any)
	if !ok {
		return nil
	}
	ids := make([]string, 0, len(receivers))
	for id := range receivers {
		typ, _, _ := strings.Cut(id, "/")
		if hostMetricsTypes[typ] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var first, firstID string
	for _, id := range ids {
		key := "receivers::" + id + "::root_path"
		raw := conf.Get(key)
		if raw == nil {
			continue
		}
		root, ok := raw.(string)
		if !ok {
			return fmt.Errorf("receivers::%s::root_path: must be a string, got %v", id, raw)
		}
		conf.Delete(key)
		// "" and "/" are the host's own root, as the receiver treats them,
		// and are exempt from its consistency check.
		if root == "" || root == "/" {
			continue
		}
		if !path.IsAbs(root) {
			return fmt.Errorf("receivers::%s::root_path: %q is not an absolute path", id, root)
		}
		if first == "" {
			first, firstID = root, id
		} else if root != first {
			return fmt.Errorf("receivers::%s::root_path: %q differs from %q of receivers::%s: every host_metrics receiver of a collector must use the same root_path",
				id, root, first, firstID)
		}
	}
	return nil
}
