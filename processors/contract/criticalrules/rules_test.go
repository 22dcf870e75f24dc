package criticalrules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

func attrs(kv ...string) pcommon.Map {
	m := pcommon.NewMap()
	for i := 0; i+1 < len(kv); i += 2 {
		m.PutStr(kv[i], kv[i+1])
	}
	return m
}

func TestMatchIsWholeValueAndANDed(t *testing.T) {
	m, err := Compile(Rules{
		{Name: "db", ExecutableName: "postgres|mysqld"},
		{Name: "billing", ExecutableName: "python3", CommandLine: ".*--queue=billing( .*)?", Owner: "app"},
		{Name: "shim", ExecutableName: "containerd-shim.*"},
		{Name: "by-path", ExecutablePath: "/opt/critical/.*"},
	})
	require.NoError(t, err)

	tests := []struct {
		name  string
		attrs pcommon.Map
		want  string
	}{
		{"literal alternative", attrs(processmetrics.AttrExecutableName, "mysqld"), "db"},
		{"literal must match whole value", attrs(processmetrics.AttrExecutableName, "postgres-exporter"), ""},
		{"literal must match whole value, prefix", attrs(processmetrics.AttrExecutableName, "xpostgres"), ""},
		{"all matchers match", attrs(processmetrics.AttrExecutableName, "python3", processmetrics.AttrCommandLine, "python3 w.py --queue=billing", processmetrics.AttrOwner, "app"), "billing"},
		{"one matcher fails", attrs(processmetrics.AttrExecutableName, "python3", processmetrics.AttrCommandLine, "python3 w.py --queue=billing", processmetrics.AttrOwner, "root"), ""},
		{"regex anchored", attrs(processmetrics.AttrExecutableName, "containerd-shim-runc-v2"), "shim"},
		{"regex anchored, no partial", attrs(processmetrics.AttrExecutableName, "my-containerd-shim"), ""},
		{"path rule", attrs(processmetrics.AttrExecutablePath, "/opt/critical/bin/agent"), "by-path"},
		{"missing attribute matches empty only", attrs(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := m.Match(tt.attrs)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.want != "", ok)
		})
	}
}

func TestFirstMatchingRuleWins(t *testing.T) {
	m, err := Compile(Rules{{Name: "first", Owner: "root"}, {Name: "second", ExecutableName: "sshd"}})
	require.NoError(t, err)
	got, _ := m.Match(attrs(processmetrics.AttrExecutableName, "sshd", processmetrics.AttrOwner, "root"))
	assert.Equal(t, "first", got)
}

func TestValidationNamesTheProblem(t *testing.T) {
	tests := []struct {
		rules Rules
		want  string
	}{
		{Rules{{ExecutableName: "x"}}, "name is required"},
		{Rules{{Name: "a"}}, ErrNoMatcher.Error()},
		{Rules{{Name: "a", CommandLine: "(("}}, `command_line: invalid regular expression "(("`},
		{Rules{{Name: "a", Owner: "x"}, {Name: "a", Owner: "y"}}, `1::name: duplicate rule name "a" (first used by rule 0)`},
	}
	for _, tt := range tests {
		_, err := Compile(tt.rules)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tt.want)
	}
}

func TestLiteralSetDetection(t *testing.T) {
	assert.NotNil(t, literalSet("postgres|mysqld"))
	assert.Nil(t, literalSet("post.*"))
	assert.Nil(t, literalSet("a||b"), "an empty alternative matches the empty string: needs the regexp")
	assert.Nil(t, literalSet("php-fpm7.4"), "a dot is a metacharacter")
}

func BenchmarkMatchDefaultStyleRules(b *testing.B) {
	m, err := Compile(Rules{
		{Name: "databases", ExecutableName: "postgres|mysqld|mongod|redis-server"},
		{Name: "runtime", ExecutableName: "kubelet|containerd|containerd-shim.*"},
	})
	require.NoError(b, err)
	a := attrs(processmetrics.AttrExecutableName, "python3", processmetrics.AttrCommandLine, "python3 worker.py")
	for b.Loop() {
		m.Match(a)
	}
}

func TestUsesNamesTheMatchedAttributes(t *testing.T) {
	m, err := Compile(Rules{{Name: "db", ExecutableName: "postgres"}, {Name: "agent", Owner: "otel", CommandLine: ".*--agent.*"}})
	if err != nil {
		t.Fatal(err)
	}
	for attr, want := range map[string]bool{
		"process.executable.name": true, "process.owner": true, "process.command_line": true,
		"process.executable.path": false,
	} {
		if got := m.Uses(attr); got != want {
			t.Errorf("Uses(%q) = %v, want %v", attr, got, want)
		}
	}
}
