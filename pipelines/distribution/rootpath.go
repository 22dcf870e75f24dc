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
			// Unset, or given wholly by a reference ValidateYAML
			// leaves unresolved (its placeholder is no path): the
			// agent resolves and checks it.
			conf.Delete(key)
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

// fileStorageTypes are the file_storage extension's type and its old alias.
var fileStorageTypes = map[string]bool{"file_storage": true, "filestorage": true}

// fileStorageConverter makes validation independent of the validating
// host's filesystem for the file_storage extension, as hostRootConverter
// does for host_metrics: its Validate stats its directories (by default
// /var/lib/otelcol/file_storage), which exist, or not, on the agent's host.
// Validated where they are, they would fail on a server that lacks them,
// and tell whoever validates whether a path exists on the server. Each
// directory that is set must be a string; then both are replaced by "/",
// a directory on every host.
func fileStorageConverter(confmap.ConverterSettings) confmap.Converter { return fileStorageConv{} }

type fileStorageConv struct{}

func (fileStorageConv) Convert(_ context.Context, conf *confmap.Conf) error {
	extensions, ok := conf.Get("extensions").(map[string]any)
	if !ok {
		return nil
	}
	ids := make([]string, 0, len(extensions))
	for id := range extensions {
		typ, _, _ := strings.Cut(id, "/")
		if fileStorageTypes[typ] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if cfg := conf.Get("extensions::" + id); cfg != nil {
			if _, ok := cfg.(map[string]any); !ok {
				continue // the extension's own decoding reports it
			}
		}
		for _, field := range []string{"directory", "compaction::directory"} {
			key := "extensions::" + id + "::" + field
			if raw := conf.Get(key); raw != nil {
				if _, ok := raw.(string); !ok {
					return fmt.Errorf("%s: must be a string, got %v", key, raw)
				}
			}
		}
		if err := conf.Merge(confmap.NewFromStringMap(map[string]any{
			"extensions": map[string]any{id: map[string]any{"directory": "/", "compaction": map[string]any{"directory": "/"}}},
		})); err != nil {
			return err
		}
	}
	return nil
}
