package criticalrules

import (
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/phoenix/platform/processors/contract/processmetrics"
)

// FuzzRules: any rule compiles or is refused, never panics, and a compiled
// rule matches any process's attributes without panicking.
func FuzzRules(f *testing.F) {
	f.Add("db", "postgres|mysqld", "", ".*nginx: master.*", "root", "postgres")
	f.Add("bad", "[", "", "", "", "x")
	f.Add("", "", "", "", "", "")
	f.Fuzz(func(t *testing.T, name, exe, path, cmdline, owner, value string) {
		m, err := Compile(Rules{{Name: name, ExecutableName: exe, ExecutablePath: path, CommandLine: cmdline, Owner: owner}})
		if err != nil {
			return
		}
		attrs := pcommon.NewMap()
		attrs.PutStr(processmetrics.AttrExecutableName, value)
		attrs.PutStr(processmetrics.AttrCommandLine, value)
		if rule, ok := m.Match(attrs); ok && rule != name {
			t.Fatalf("matched rule %q, want %q", rule, name)
		}
	})
}
