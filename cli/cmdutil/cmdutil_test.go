package cmdutil

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clearClientEnv isolates a test from the caller's PHOENIX_* variables and
// home directory.
func clearClientEnv(t *testing.T) (home string) {
	t.Helper()
	home = t.TempDir()
	t.Setenv("HOME", home)
	for _, k := range []string{EnvServer, EnvToken, EnvTokenFile} {
		t.Setenv(k, "")
	}
	return home
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestTokenResolution(t *testing.T) {
	type setup struct {
		flagToken, envToken      string
		flagFile, envFile        string // file contents; "" means not given
		defaultFile              string // contents of the local server's admin.token
		flagFileMissing, badHome bool
	}
	tests := []struct {
		name    string
		setup   setup
		want    string
		wantErr string
	}{
		{name: "flag beats everything", want: "from-flag",
			setup: setup{flagToken: "from-flag", envToken: "from-env", flagFile: "from-flag-file", envFile: "from-env-file", defaultFile: "from-default"}},
		{name: "env beats files", want: "from-env",
			setup: setup{envToken: "from-env", flagFile: "from-flag-file", envFile: "from-env-file", defaultFile: "from-default"}},
		{name: "token file flag beats its env", want: "from-flag-file",
			setup: setup{flagFile: "from-flag-file\n", envFile: "from-env-file", defaultFile: "from-default"}},
		{name: "token file env beats the default", want: "from-env-file",
			setup: setup{envFile: "  from-env-file\n", defaultFile: "from-default"}},
		{name: "the local server's admin token", want: "from-default", setup: setup{defaultFile: "from-default\n"}},
		{name: "nothing at all", want: ""},
		{name: "explicit token file missing", setup: setup{flagFileMissing: true, defaultFile: "from-default"},
			wantErr: "reading token file"},
		{name: "default token file unreadable", setup: setup{badHome: true}, wantErr: "admin.token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := clearClientEnv(t)
			dir := t.TempDir()
			o := ClientOptions{Token: tt.setup.flagToken}
			t.Setenv(EnvToken, tt.setup.envToken)
			if tt.setup.flagFile != "" {
				o.TokenFile = writeFile(t, filepath.Join(dir, "flag.token"), tt.setup.flagFile)
			}
			if tt.setup.flagFileMissing {
				o.TokenFile = filepath.Join(dir, "missing.token")
			}
			if tt.setup.envFile != "" {
				t.Setenv(EnvTokenFile, writeFile(t, filepath.Join(dir, "env.token"), tt.setup.envFile))
			}
			defaultPath := filepath.Join(home, ".local", "share", "phoenix", "admin.token")
			if tt.setup.defaultFile != "" {
				writeFile(t, defaultPath, tt.setup.defaultFile)
			}
			if tt.setup.badHome {
				require.NoError(t, os.MkdirAll(defaultPath, 0o700)) // a directory where the file should be
			}

			got, err := o.token(DefaultServer)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// TestTheLocalAdminTokenStaysLocal replays the finding: the CLI sent the
// local server's admin token to whatever --server it was given.
func TestTheLocalAdminTokenStaysLocal(t *testing.T) {
	home := clearClientEnv(t)
	writeFile(t, filepath.Join(home, ".local", "share", "phoenix", "admin.token"), "local-admin\n")
	for server, want := range map[string]string{
		DefaultServer:                      "local-admin",
		"http://localhost:9000":            "local-admin",
		"https://[::1]:8443":               "local-admin",
		"https://phoenix.example.com":      "",
		"http://10.0.0.7:8080":             "",
		"http://127.0.0.1.attacker.com:80": "",
	} {
		got, err := (&ClientOptions{}).token(server)
		require.NoError(t, err)
		assert.Equal(t, want, got, server)
	}
	got, err := (&ClientOptions{Token: "given"}).token("https://phoenix.example.com")
	require.NoError(t, err)
	assert.Equal(t, "given", got, "a token the user gives goes where the user says")
}

// recorder is an API server that answers every request with an empty list
// and remembers the Authorization header it saw.
type recorder struct {
	mu   sync.Mutex
	auth []string
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"data": [], "meta": {"request_id": "r"}}`))
}

func TestClientUsesResolvedServerAndToken(t *testing.T) {
	clearClientEnv(t)
	flagSrv, envSrv := &recorder{}, &recorder{}
	flagURL, envURL := httptest.NewServer(flagSrv), httptest.NewServer(envSrv)
	t.Cleanup(flagURL.Close)
	t.Cleanup(envURL.Close)
	t.Setenv(EnvServer, envURL.URL)

	c, err := (&ClientOptions{Server: flagURL.URL, Token: "t1"}).Client()
	require.NoError(t, err)
	_, err = c.Pipelines(t.Context())
	require.NoError(t, err)
	c, err = (&ClientOptions{}).Client()
	require.NoError(t, err)
	_, err = c.Pipelines(t.Context())
	require.NoError(t, err)

	assert.Equal(t, []string{"Bearer t1"}, flagSrv.auth, "--server beats "+EnvServer)
	assert.Equal(t, []string{""}, envSrv.auth, "no token: no Authorization header")

	_, err = (&ClientOptions{TokenFile: filepath.Join(t.TempDir(), "missing")}).Client()
	assert.Error(t, err)
}

func TestAddClientFlags(t *testing.T) {
	t.Parallel()
	var o ClientOptions
	group := &cobra.Command{Use: "group"}
	AddClientFlags(group, &o)
	leaf := &cobra.Command{Use: "leaf", RunE: func(*cobra.Command, []string) error { return nil }}
	group.AddCommand(leaf)
	group.SetArgs([]string{"leaf", "--server", "http://s:1", "--token", "t", "--token-file", "f"})
	require.NoError(t, group.Execute())
	assert.Equal(t, ClientOptions{Server: "http://s:1", Token: "t", TokenFile: "f"}, o, "subcommands inherit the flags")
}

func TestParseParams(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		flags   []string
		want    map[string]any
		wantErr string
	}{
		{name: "none", want: map[string]any{}},
		{name: "scalars are YAML", flags: []string{"k=10", "on=true", "ratio=0.5", "d=30s", "s=web"},
			want: map[string]any{"k": 10, "on": true, "ratio": 0.5, "d": "30s", "s": "web"}},
		{name: "flow collections", flags: []string{"l=[cpu, memory]", "m={a: 1, b: x}"},
			want: map[string]any{"l": []any{"cpu", "memory"}, "m": map[string]any{"a": 1, "b": "x"}}},
		{name: "quotes force a string", flags: []string{`k="10"`, "b='true'"}, want: map[string]any{"k": "10", "b": "true"}},
		{name: "empty and null stay text", flags: []string{"e=", "n=null", "t=~"}, want: map[string]any{"e": "", "n": "null", "t": "~"}},
		{name: "value may hold =", flags: []string{"h=a=b"}, want: map[string]any{"h": "a=b"}},
		{name: "key is trimmed", flags: []string{" k =v"}, want: map[string]any{"k": "v"}},
		{name: "later flag wins", flags: []string{"k=1", "k=2"}, want: map[string]any{"k": 2}},
		{name: "no =", flags: []string{"k"}, wantErr: `--param "k": want key=value`},
		{name: "no key", flags: []string{"=v"}, wantErr: "want key=value"},
		{name: "bad YAML", flags: []string{"l=[cpu"}, wantErr: "--param l"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseParams(tt.flags, "")
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseParamsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	yamlFile := writeFile(t, filepath.Join(dir, "p.yaml"), "k: 15\ndestination: none\nrules: [{name: db, executable_name: postgres}]\n")
	got, err := ParseParams([]string{"k=20"}, yamlFile)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"k": 20, "destination": "none",
		"rules": []any{map[string]any{"name": "db", "executable_name": "postgres"}}}, got, "flags override the file")

	jsonFile := writeFile(t, filepath.Join(dir, "p.json"), `{"k": 15, "system_metrics": false}`)
	got, err = ParseParams(nil, jsonFile)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"k": 15, "system_metrics": false}, got)

	for _, empty := range []string{"", "null\n", "# nothing yet\n"} {
		got, err = ParseParams([]string{"k=1"}, writeFile(t, filepath.Join(dir, "empty.yaml"), empty))
		require.NoError(t, err, "%q", empty)
		assert.Equal(t, map[string]any{"k": 1}, got, "%q", empty)
	}

	_, err = ParseParams(nil, filepath.Join(dir, "missing.yaml"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "parameters file")
	list := writeFile(t, filepath.Join(dir, "list.yaml"), "- k\n")
	_, err = ParseParams(nil, list)
	require.Error(t, err)
	assert.Contains(t, err.Error(), list, "the error names the file")
}

func TestFormatFlag(t *testing.T) {
	t.Parallel()
	var f Format
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	AddFormatFlag(cmd, &f)
	assert.Equal(t, FormatTable, f, "table by default")
	assert.Equal(t, "format", cmd.Flags().Lookup("output").Value.Type())

	for _, v := range []string{"table", "json", "yaml"} {
		cmd.SetArgs([]string{"-o", v})
		require.NoError(t, cmd.Execute())
		assert.Equal(t, Format(v), f)
		assert.Equal(t, v, f.String())
	}
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"--output", "xml"})
	err := cmd.Execute()
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown output format "xml" (valid: table, json, yaml)`)
}

func TestWriteStructured(t *testing.T) {
	t.Parallel()
	v := map[string]any{"name": "topk", "params": []string{"k"}}
	var buf bytes.Buffer
	require.NoError(t, WriteStructured(&buf, FormatJSON, v))
	assert.Equal(t, "{\n  \"name\": \"topk\",\n  \"params\": [\n    \"k\"\n  ]\n}\n", buf.String())

	buf.Reset()
	require.NoError(t, WriteStructured(&buf, FormatYAML, v))
	assert.Equal(t, "name: topk\nparams:\n  - k\n", buf.String())

	err := WriteStructured(&buf, FormatTable, v)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not structured")

	err = WriteStructured(&buf, FormatYAML, func() {})
	assert.Error(t, err, "a value JSON cannot encode")
}

type inner struct {
	InstanceUID string `json:"instance_uid"`
	Omitted     string `json:"omitted,omitempty"`
}

type outer struct {
	inner
	Config  string          `json:"config"`
	Version string          `json:"version"`
	Raw     json.RawMessage `json:"raw"`
	Count   uint64          `json:"count"`
}

func TestYAMLMirrorsJSON(t *testing.T) {
	t.Parallel()
	v := []outer{{inner: inner{InstanceUID: "a-1"}, Config: "receivers:\n  nop: {}\n", Version: "10",
		Raw: json.RawMessage(`{"name": "topk", "k": 10}`), Count: 1 << 60}}
	var buf bytes.Buffer
	require.NoError(t, WriteStructured(&buf, FormatYAML, v))
	assert.Equal(t, `- instance_uid: a-1
  config: |
    receivers:
      nop: {}
  version: "10"
  raw:
    name: topk
    k: 10
  count: 1152921504606846976
`, buf.String(), "JSON names and order, embedded fields inline, omitempty honoured, raw JSON as YAML")
}

func TestIOStreams(t *testing.T) {
	t.Parallel()
	ios, out, errOut := Test()
	_, _ = ios.Out.Write([]byte("o"))
	_, _ = ios.ErrOut.Write([]byte("e"))
	assert.Equal(t, "o", out.String())
	assert.Equal(t, "e", errOut.String())

	sys := System()
	assert.Equal(t, os.Stdin, sys.In)
	assert.Equal(t, os.Stdout, sys.Out)
	assert.Equal(t, os.Stderr, sys.ErrOut)
}

func TestIsTerminal(t *testing.T) {
	t.Parallel()
	assert.False(t, IsTerminal(&bytes.Buffer{}))
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	require.NoError(t, err)
	defer f.Close()
	assert.False(t, IsTerminal(f), "a regular file")
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devNull.Close()
	assert.True(t, IsTerminal(devNull), "a character device")
}
