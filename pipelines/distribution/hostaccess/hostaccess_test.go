package hostaccess

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReferences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []Reference
	}{
		{"plain", nil},
		{"${env:A}", []Reference{{Text: "${env:A}", Scheme: "env", Value: "A"}}},
		{"${A}", []Reference{{Text: "${A}", Scheme: "env", Value: "A"}}},
		{"${env:A:-x}", []Reference{{Text: "${env:A:-x}", Scheme: "env", Value: "A:-x"}}},
		{"$${env:A}", nil},
		{"$$${env:A}", []Reference{{Text: "${env:A}", Scheme: "env", Value: "A"}}},
		{"$${env:A} ${file:/b}", []Reference{{Text: "${file:/b}", Scheme: "file", Value: "/b"}}},
		{"${env:A", nil},
		{"} ${env:A}}", []Reference{{Text: "${env:A}", Scheme: "env", Value: "A"}}},
		{"Bearer ${env:T} and ${https://h/x?a=b}", []Reference{
			{Text: "${env:T}", Scheme: "env", Value: "T"},
			{Text: "${https://h/x?a=b}", Scheme: "https", Value: "//h/x?a=b"},
		}},
		{"${env:${file:/which}}-${x}", []Reference{
			{Text: "${file:/which}", Scheme: "file", Value: "/which"},
			{Text: "${env:${file:/which}}", Scheme: "env", Value: "${file:/which}", Nested: true},
			{Text: "${x}", Scheme: "env", Value: "x"},
		}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, References(tt.in), tt.in)
	}
}

func TestFind(t *testing.T) {
	t.Parallel()
	config := `
receivers:
  filelog/app: {include: [/var/log/app.log]}
  otlp: {protocols: {grpc: {endpoint: "${env:LISTEN}"}}}
processors:
  transform: {metric_statements: ["${file:/data/admin.token}"], error_mode: "$${env:LITERAL}"}
exporters:
  file: {path: /tmp/out}
  otlp_http:
    endpoint: "${https://169.254.169.254/latest/meta-data/iam}"
    headers: {"${env:KEY_NAME}": "Bearer ${env:${env:WHICH}}", plain: "${yaml:[a]}"}
extensions:
  file_storage/queue: {}
  health_check: {}
service:
  telemetry: {logs: {output_paths: [stderr, /etc/cron.d/x], error_output_paths: [stdout]}}
  pipelines: {metrics: {receivers: [otlp], exporters: [file]}}
other: "${vault:secret/x}"
`
	got, err := Find([]byte(config))
	require.NoError(t, err)
	want := []Access{
		{Path: "exporters::file", Kind: KindHostFiles, Name: "exporters::file"},
		{Path: "exporters::otlp_http::endpoint", Kind: KindURL, Name: "https://169.254.169.254/latest/meta-data/iam", Ref: "${https://169.254.169.254/latest/meta-data/iam}"},
		{Path: "exporters::otlp_http::headers::${env:KEY_NAME}", Kind: KindEnv, Name: "KEY_NAME", Ref: "${env:KEY_NAME}"},
		{Path: "exporters::otlp_http::headers::${env:KEY_NAME}", Kind: KindEnv, Name: "WHICH", Ref: "${env:WHICH}"},
		{Path: "exporters::otlp_http::headers::${env:KEY_NAME}", Kind: KindEnv, Name: "", Ref: "${env:${env:WHICH}}"},
		{Path: "extensions::file_storage/queue", Kind: KindHostFiles, Name: "extensions::file_storage/queue"},
		{Path: "other", Kind: KindReference, Name: "vault", Ref: "${vault:secret/x}"},
		{Path: "processors::transform::metric_statements::0", Kind: KindFile, Name: "/data/admin.token", Ref: "${file:/data/admin.token}"},
		{Path: "receivers::filelog/app", Kind: KindHostFiles, Name: "receivers::filelog/app"},
		{Path: "receivers::otlp::protocols::grpc::endpoint", Kind: KindEnv, Name: "LISTEN", Ref: "${env:LISTEN}"},
		{Path: "service::telemetry::logs::output_paths::1", Kind: KindHostFiles, Name: "service::telemetry::logs::output_paths::1"},
	}
	assert.Equal(t, want, got)

	reasons := make([]string, len(got))
	for i, a := range got {
		reasons[i] = a.String()
	}
	assert.Equal(t, []string{
		"exporters::file at exporters::file: writes files on the host",
		"${https://169.254.169.254/latest/meta-data/iam} at exporters::otlp_http::endpoint: fetches https://169.254.169.254/latest/meta-data/iam from the host",
		"${env:KEY_NAME} at exporters::otlp_http::headers::${env:KEY_NAME}: reads environment variable KEY_NAME",
		"${env:WHICH} at exporters::otlp_http::headers::${env:KEY_NAME}: reads environment variable WHICH",
		"${env:${env:WHICH}} at exporters::otlp_http::headers::${env:KEY_NAME}: reads an environment variable whose name is itself a reference",
		"extensions::file_storage/queue at extensions::file_storage/queue: writes files on the host",
		"${vault:secret/x} at other: is resolved by the collector on the host",
		"${file:/data/admin.token} at processors::transform::metric_statements::0: reads file /data/admin.token",
		"receivers::filelog/app at receivers::filelog/app: reads files on the host",
		"${env:LISTEN} at receivers::otlp::protocols::grpc::endpoint: reads environment variable LISTEN",
		"service::telemetry::logs::output_paths::1 at service::telemetry::logs::output_paths::1: writes the collector's log to a file on the host",
	}, reasons)
}

func TestFindNothing(t *testing.T) {
	t.Parallel()
	got, err := Find([]byte(`
receivers: {host_metrics: {scrapers: {process: {}}}}
exporters: {otlp_http: {endpoint: "https://x:4318", headers: {a: "$${env:NOT_A_REFERENCE}"}}}
service: {telemetry: {logs: {output_paths: [stderr]}}, pipelines: {metrics: {receivers: [host_metrics], exporters: [otlp_http]}}}
`))
	require.NoError(t, err)
	assert.Empty(t, got)

	_, err = Find([]byte("receivers: ["))
	assert.ErrorContains(t, err, "reading the configuration")

	got, err = Find([]byte(`[1, {2: "${env:A}"}]`))
	require.NoError(t, err)
	assert.Equal(t, []Access{{Path: "1::2", Kind: KindEnv, Name: "A", Ref: "${env:A}"}}, got, "keys that are not strings")
}

func TestFindOrdersListElementsByIndex(t *testing.T) {
	t.Parallel()
	got, err := Find([]byte(`statements: ["${A}", "1", "2", "3", "4", "5", "6", "7", "8", "9", "${B}", "${C} ${D}"]`))
	require.NoError(t, err)
	var refs []string
	for _, a := range got {
		refs = append(refs, a.Path+"="+a.Name)
	}
	assert.Equal(t, []string{"statements::0=A", "statements::10=B", "statements::11=C", "statements::11=D"}, refs)
}
