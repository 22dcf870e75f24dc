package redact

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"bearer header", "Authorization: Bearer abcdefgh12345678", "Authorization: Bearer <redacted>"},
		{"bearer anywhere", `value: "x bearer abc.def_ghi-jkl~mno+p/q="`, `value: "x bearer <redacted>"`},
		{"bearer reference", `headers: {Authorization: "Bearer ${env:PHOENIX_AGENT_TOKEN}"}`, `headers: {Authorization: "Bearer ${env:PHOENIX_AGENT_TOKEN}"}`},
		{"short bearer word", "note: Bearer short", "note: Bearer short"},
		{"api key", "  api-key: 0123456789abcdef", "  api-key: <redacted>"},
		{"x-api-key quoted", `    "X-Api-Key": "abc123secret"`, `    "X-Api-Key": <redacted>`},
		{"license key flow", `headers: {api-key: NRAK-123, x-other: 1}`, `headers: {api-key: <redacted>, x-other: 1}`},
		{"license key env", `headers: {api-key: "${env:NEW_RELIC_LICENSE_KEY}"}`, `headers: {api-key: "${env:NEW_RELIC_LICENSE_KEY}"}`},
		{"password", "password: hunter2 # old", "password: <redacted># old"},
		{"client secret", "client_secret: s3cr3t", "client_secret: <redacted>"},
		{"token", "token: abc", "token: <redacted>"},
		{"block scalar left", "token: |\n  abc", "token: |\n  abc"},
		{"plain config", "receivers: {nop: {}}\nexporters:\n  otlp:\n    endpoint: example.com:4317", "receivers: {nop: {}}\nexporters:\n  otlp:\n    endpoint: example.com:4317"},
		{"tokenizer is not a token", "tokenizer_mode: fast", "tokenizer_mode: fast"},
		{"idempotent", "password: <redacted>", "password: <redacted>"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Config(tt.in), tt.name)
	}
}

func TestParams(t *testing.T) {
	t.Parallel()
	in := map[string]any{
		"otlp_headers":             map[string]any{"x-api-key": "abc", "x-team": "core"},
		"otlp_env_headers":         map[string]any{"api-key": "OTLP_API_KEY"},
		"newrelic_license_key_env": "NEW_RELIC_LICENSE_KEY",
		"telemetry_token_env":      "PHOENIX_AGENT_TOKEN",
		"k":                        10,
		"password":                 "hunter2",
		"tags":                     map[string]string{"token": "t"},
	}
	got := Params(in)
	assert.Equal(t, map[string]any{
		"otlp_headers":             map[string]any{"x-api-key": Placeholder, "x-team": "core"},
		"otlp_env_headers":         map[string]any{"api-key": "OTLP_API_KEY"},
		"newrelic_license_key_env": "NEW_RELIC_LICENSE_KEY",
		"telemetry_token_env":      "PHOENIX_AGENT_TOKEN",
		"k":                        10,
		"password":                 Placeholder,
		"tags":                     map[string]any{"token": Placeholder},
	}, got)
	assert.Equal(t, "abc", in["otlp_headers"].(map[string]any)["x-api-key"], "the input is not modified")
	assert.Nil(t, Params(nil))
}

func FuzzConfig(f *testing.F) {
	for _, s := range []string{"Authorization: Bearer abcdefgh12345678", "headers: {api-key: x}", "password: p", "receivers: {}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		once := Config(in)
		if Config(once) != once {
			t.Fatalf("redacting twice changes %q", once)
		}
	})
}

// FuzzConfigLines holds Config, which runs the patterns line by line, to
// what they give over the whole text.
func FuzzConfigLines(f *testing.F) {
	for _, s := range []string{
		"exporters:\n  otlp_http:\n    headers:\n      Authorization: Bearer abcdefgh12345678\n",
		"token\n  : abc\nnext: 1",
		"x: Bearer\n\n   abcdefgh12345678",
		`"password"` + "\n:\thunter2",
		"headers: {api-key: a,\n x-api-key: b}\n",
		"api-key : \n  value",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if got, want := Config(in), redactText(in); got != want {
			t.Fatalf("line by line %q, whole text %q", got, want)
		}
	})
}

func BenchmarkConfig(b *testing.B) {
	var sb strings.Builder
	for i := range 60 {
		fmt.Fprintf(&sb, "processors:\n  p%d:\n    endpoint: http://example.com:%d\n    timeout: 5s\n", i, 4000+i)
	}
	sb.WriteString("exporters:\n  otlp_http:\n    headers:\n      Authorization: Bearer ${env:PHOENIX_AGENT_TOKEN}\n      api-key: abc\n")
	cfg := sb.String()
	b.SetBytes(int64(len(cfg)))
	for b.Loop() {
		Config(cfg)
	}
}
