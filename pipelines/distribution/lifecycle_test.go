package distribution

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heapInUse is the live heap after collecting everything unreachable.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// Each validation of a configuration with an OTLP receiver or a file exporter
// used to leave the component, with its configuration, in a process-wide map.
// A large string in the configuration makes each leaked entry weigh 256 KiB.
// Not parallel: parallel tests would move the heap while it is measured.
func TestValidationReleasesWhatItCreates(t *testing.T) {
	big := strings.Repeat("a", 256<<10)
	tests := map[string]string{
		"file exporter": `
receivers: {host_metrics: {scrapers: {process: {}}}}
exporters: {file: {path: /var/lib/phoenix/` + big + `}}
service: {pipelines: {metrics: {receivers: [host_metrics], exporters: [file]}}}`,
		"otlp receiver": `
receivers: {otlp: {protocols: {http: {endpoint: "127.0.0.1:4318", metrics_url_path: "/` + big + `"}}}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [otlp], exporters: [nop]}}}`,
	}
	const rounds = 32 // 8 MiB leaked before the fix
	for name, config := range tests {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, ValidateYAML(t.Context(), []byte(config)))
			before := heapInUse()
			for range rounds {
				require.NoError(t, ValidateYAML(t.Context(), []byte(config)))
			}
			grown := int64(heapInUse()) - int64(before)
			assert.Less(t, grown, int64(2<<20), "the heap grew by %d KiB over %d validations", grown>>10, rounds)
		})
	}
}

func TestValidationChecksTheFileExporterWithoutWriting(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out", "metrics.json")
	config := `
receivers: {host_metrics: {scrapers: {process: {}}}}
exporters: {file: {path: ` + path + `, create_directory: true}}
service: {pipelines: {metrics: {receivers: [host_metrics], exporters: [file]}}}`
	require.NoError(t, ValidateYAML(t.Context(), []byte(config)))
	_, err := os.Stat(filepath.Dir(path))
	assert.ErrorIs(t, err, os.ErrNotExist, "validation creates no directory and opens no file")

	err = ValidateYAML(t.Context(), []byte(`
receivers: {host_metrics: {scrapers: {process: {}}}}
exporters: {file: {}}
service: {pipelines: {metrics: {receivers: [host_metrics], exporters: [file]}}}`))
	invalid, ok := AsInvalid(err)
	require.True(t, ok, "%v", err)
	require.Len(t, invalid.Problems, 1)
	assert.Equal(t, "exporters::file", invalid.Problems[0].Path)
}

// validationFactories records receivers, processors and exporters only.
func TestDistributionHasNoConnectors(t *testing.T) {
	t.Parallel()
	f, err := Components()
	require.NoError(t, err)
	assert.Empty(t, f.Connectors, "validationFactories must record connectors before the distribution gets one")
}
