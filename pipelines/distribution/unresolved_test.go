package distribution

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// secretValue is unique to one test, and is not a valid value for any
// field it is put in: a field that resolved it would report it.
func secretValue(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return "s3cret-" + hex.EncodeToString(b) + "-(("
}

// leakConfigs put ref, a reference, in every kind of position: a string
// field, an enumeration (error_mode), OTTL statements (a list element,
// whole and inline), an int, a duration, a bool, a map key and value, a
// regular expression, a path the server would stat, and an endpoint.
func leakConfigs(ref string) map[string]string {
	wrap := func(processors, processorIDs string) string {
		return `
receivers: {otlp: {protocols: {grpc: {}}}}
processors:
` + processors + `
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [otlp], processors: [` + processorIDs + `], exporters: [nop]}}}
`
	}
	return map[string]string{
		"error_mode":              wrap(`  transform: {error_mode: "`+ref+`"}`, "transform"),
		"metric_statements":       wrap(`  transform: {metric_statements: ["`+ref+`"]}`, "transform"),
		"inline statement":        wrap(`  transform: {metric_statements: ['set(resource.attributes["k"], "`+ref+`")x']}`, "transform"),
		"int field":               wrap(`  memory_limiter: {check_interval: 1s, limit_mib: "`+ref+`"}`, "memory_limiter"),
		"duration field":          wrap(`  memory_limiter: {check_interval: "`+ref+`", limit_mib: 100}`, "memory_limiter"),
		"bool field":              wrap(`  resource_detection: {detectors: [env], override: "`+ref+`"}`, "resource_detection"),
		"list element (detector)": wrap(`  resource_detection: {detectors: ["`+ref+`"]}`, "resource_detection"),
		"regular expression":      wrap(`  process_critical: {rules: [{name: x, executable_name: "`+ref+`"}]}`, "process_critical"),
		"map key":                 wrap(`  process_critical: {rules: [{name: x, "`+ref+`": y}]}`, "process_critical"),
		"string field":            wrap(`  cost_meter: {variant: "`+ref+`", active_series_window: -1s}`, "cost_meter"),
		"endpoint": `
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {otlp_http: {endpoint: "` + ref + `", headers: {"` + ref + `": "` + ref + `"}, timeout: -1s}}
service: {pipelines: {metrics: {receivers: [otlp], exporters: [otlp_http]}}}
`,
		"root_path": `
receivers: {host_metrics: {root_path: "` + ref + `", scrapers: {process: {}}}, host_metrics/other: {root_path: "/other` + ref + `", scrapers: {memory: {}}}}
exporters: {nop: {}}
service: {pipelines: {metrics: {receivers: [host_metrics, host_metrics/other], exporters: [nop]}}}
`,
		"file_storage directory": `
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {nop: {}}
extensions: {file_storage: {directory: "` + ref + `", compaction: {directory: "/x` + ref + `"}, max_size: -1}}
service: {extensions: [file_storage], pipelines: {metrics: {receivers: [otlp], exporters: [nop]}}}
`,
		"telemetry": `
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {nop: {}}
service:
  telemetry: {logs: {level: "` + ref + `"}}
  pipelines: {metrics: {receivers: [otlp], exporters: [nop]}}
`,
	}
}

// The finding this closes: validation ran the collector's env and file
// providers on the server, and the component errors echoed what they read.
// No value of an environment variable or a file may reach a problem,
// whatever the reference's position.
func TestValidateYAMLResolvesNothing(t *testing.T) {
	secret := secretValue(t)
	t.Setenv("PHOENIX_TEST_SECRET", secret)
	file := filepath.Join(t.TempDir(), "admin.token")
	require.NoError(t, os.WriteFile(file, []byte(secret+"\n"), 0o600))

	refs := map[string]string{
		"env":            "${env:PHOENIX_TEST_SECRET}",
		"default scheme": "${PHOENIX_TEST_SECRET}",
		"env default":    "${env:PHOENIX_TEST_UNSET:-" + "x}",
		"file":           "${file:" + file + "}",
		"nested":         "${env:${env:PHOENIX_TEST_NAME}}",
		"inline":         "a-${env:PHOENIX_TEST_SECRET}-b",
	}
	t.Setenv("PHOENIX_TEST_NAME", "PHOENIX_TEST_SECRET")
	invalid := 0
	for refName, ref := range refs {
		for position, config := range leakConfigs(ref) {
			err := ValidateYAML(t.Context(), []byte(config))
			if err == nil {
				continue
			}
			invalid++
			text := err.Error()
			if ice, ok := AsInvalid(err); ok {
				for _, p := range ice.Problems {
					text += "\n" + p.Path + " " + p.Message
				}
			}
			assert.NotContains(t, text, secret, "%s in %s: the value was resolved", refName, position)
			assert.NotContains(t, text, strings.TrimPrefix(secret, "s3cret-"), "%s in %s", refName, position)
		}
	}
	assert.Greater(t, invalid, 10, "the configurations must exercise the error paths")
}

// A reference validates as a placeholder, visible in the problems it
// causes, never as the value.
func TestValidateYAMLShowsThePlaceholder(t *testing.T) {
	t.Setenv("PHOENIX_TEST_MODE", "ignore")
	err := ValidateYAML(t.Context(), []byte(leakConfigs("${env:PHOENIX_TEST_MODE}")["error_mode"]))
	ice, ok := AsInvalid(err)
	require.True(t, ok, "a valid error_mode in the server's environment must not make it valid: %v", err)
	require.Len(t, ice.Problems, 1)
	assert.Equal(t, "processors::transform::error_mode", ice.Problems[0].Path)
	assert.Contains(t, strings.ToLower(ice.Problems[0].Message), strings.ToLower(PlaceholderPrefix+"env:PHOENIX_TEST_MODE)"))
}

// Fields of every type may be given by a reference: the placeholder is no
// value, so a non-string field is validated as its zero value (as with an
// unset variable) and never fails to decode. The catalog's own
// configurations (New Relic's license key, OTLP headers, the agent token)
// validate; pipelines/catalog's tests validate every one.
func TestValidateYAMLAcceptsReferencesOfEveryType(t *testing.T) {
	config := `
receivers:
  otlp: {protocols: {grpc: {endpoint: "${env:LISTEN}"}}}
  host_metrics: {collection_interval: "${env:INTERVAL}", root_path: "${env:ROOT}", scrapers: {process: {mute_process_exe_error: "${env:MUTE}"}}}
processors:
  batch: {timeout: "${env:TIMEOUT}", send_batch_size: "${env:SIZE}"}
  transform: {error_mode: ignore, metric_statements: ['set(resource.attributes["team"], "${env:TEAM}")']}
exporters:
  otlp_http:
    endpoint: https://otlp.nr-data.net:4318
    headers: {api-key: "${env:NEW_RELIC_LICENSE_KEY}", authorization: "Bearer ${env:PHOENIX_AGENT_TOKEN}", x-file: "${file:/etc/phoenix/header}"}
extensions:
  file_storage: {directory: /var/lib/phoenix-not-on-this-server}
service:
  extensions: [file_storage]
  pipelines:
    metrics: {receivers: [otlp, host_metrics], processors: [batch, transform], exporters: [otlp_http]}
`
	require.NoError(t, ValidateYAML(t.Context(), []byte(strings.Replace(config, "${env:INTERVAL}", "10s", 1))))

	// A field the component requires to be positive is validated as unset:
	// the problem says why.
	err := ValidateYAML(t.Context(), []byte(config))
	ice, ok := AsInvalid(err)
	require.True(t, ok, "%v", err)
	require.Len(t, ice.Problems, 1)
	assert.Equal(t, "receivers::host_metrics::controllerconfig", ice.Problems[0].Path)
	assert.Contains(t, ice.Problems[0].Message, "the server resolves no reference; ${env:INTERVAL}, ${env:ROOT}, ${env:MUTE} was validated as")
}

func TestValidateYAMLChecksReferenceSyntax(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"${env:1BAD}":       `environment variable "1BAD" has invalid name`,
		"${file:}":          `names no file`,
		"${https:nohost}":   `has no host`,
		"${ftp://host/x}":   `scheme "ftp" is not supported`,
		"${env:A$B}":        `unsupported characters`,
		"${env:OK:-dflt}x}": ``,
	}
	for ref, want := range tests {
		t.Run(ref, func(t *testing.T) {
			t.Parallel()
			err := ValidateYAML(t.Context(), []byte(leakConfigs(ref)["string field"]))
			require.Error(t, err)
			if want == "" {
				// valid syntax: only the component's own problems
				assert.NotContains(t, err.Error(), "invalid name")
				assert.Contains(t, err.Error(), PlaceholderPrefix+"env:OK:-dflt)x}")
				return
			}
			assert.Contains(t, err.Error(), want)
		})
	}
}

// The file_storage extension's directories are the agent's: validation
// neither needs them on the server nor tells whether they exist there.
func TestValidateFileStorageDirectoryIsTheAgentsHosts(t *testing.T) {
	t.Parallel()
	config := func(dir string) string {
		return `
receivers: {otlp: {protocols: {grpc: {}}}}
exporters: {nop: {}}
extensions: {file_storage/a: {directory: ` + dir + `, compaction: {on_start: true}}}
service: {extensions: [file_storage/a], pipelines: {metrics: {receivers: [otlp], exporters: [nop]}}}
`
	}
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for _, dir := range []string{"/not/on/this/server", file, "/root/.ssh", "relative/dir"} {
		assert.NoError(t, ValidateYAML(t.Context(), []byte(config(dir))), dir)
	}
	err := ValidateYAML(t.Context(), []byte(config("[a, b]")))
	ice, ok := AsInvalid(err)
	require.True(t, ok, "%v", err)
	require.Len(t, ice.Problems, 1)
	assert.Equal(t, Problem{Path: "extensions::file_storage/a::directory", Message: "must be a string, got [a b]"}, ice.Problems[0])
}

// ValidateFile is the CLI's, on the user's own machine: it resolves
// references there, as the collector would on that machine.
func TestValidateFileResolvesLocally(t *testing.T) {
	t.Setenv("PHOENIX_TEST_MODE", "ignore")
	path := filepath.Join(t.TempDir(), "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(leakConfigs("${env:PHOENIX_TEST_MODE}")["error_mode"]), 0o600))
	assert.NoError(t, ValidateFile(t.Context(), path))
}
