package root

// Tests of the docs checks themselves: each must fail on what it exists to
// catch.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckPhoenixCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		line    string
		wantErr string
	}{
		{"flags and values", `experiment create --name x --selector env=a --candidate topk-rollup --duration 30m --min-series-reduction 0.8 --start`, ""},
		{"persistent flag before the subcommand", `experiment --server http://127.0.0.1:8080 list --status running,deploying`, ""},
		{"shorthands and repeated flags", `config assign -l env=prod -l 'host.name=~web-.*' --pipeline topk-rollup -p k=5 -p destination=none`, ""},
		{"a placeholder argument", `experiment status <id> -o yaml`, ""},
		{"help", `experiment create --help`, ""},
		{"the help command", `help experiment`, ""},
		{"a command group alone", `agent`, ""},
		{"a removed flag", `experiment create --min-reduction 0.8`, "unknown flag: --min-reduction"},
		{"a removed shorthand", `agent list -s env=prod`, "unknown shorthand flag: 's'"},
		{"a value that does not parse", `demo --duration soon`, `invalid argument "soon" for "--duration"`},
		{"a flag without its value", `experiment report exp-1 --html`, "flag needs an argument: --html"},
		{"an unknown command", `deploy --all`, `unknown command "deploy" for "phoenix"`},
		{"an unknown subcommand", `experiment launch exp-1`, `"launch" is not a command of "phoenix experiment"`},
		{"a missing argument", `experiment results`, "accepts 1 arg(s), received 0"},
		{"an extra argument", `agent list web-1`, `unknown command "web-1" for "phoenix agent list"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmds, _, _, err := splitShell(tt.line)
			require.NoError(t, err)
			require.Len(t, cmds, 1)
			err = checkPhoenixCommand(cmds[0])
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestSplitShell(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line    string
		want    [][]string
		subs    []string
		heredoc string
		wantErr string
	}{
		{line: `phoenix agent list --selector 'host.name=~web-.*' | jq .`,
			want: [][]string{{"phoenix", "agent", "list", "--selector", "host.name=~web-.*"}, {"jq", "."}}},
		{line: `phoenix demo -o json > results.json 2>&1; echo done`,
			want: [][]string{{"phoenix", "demo", "-o", "json"}, {"echo", "done"}}},
		{line: `EXP=$(phoenix experiment create -f spec.yaml) && phoenix experiment watch "$EXP"`,
			want: [][]string{{"EXP=$(…)"}, {"phoenix", "experiment", "watch", "$EXP"}},
			subs: []string{"phoenix experiment create -f spec.yaml"}},
		{line: `echo "say \"hi\" to $(hostname)" it\'s # a comment`,
			want: [][]string{{"echo", `say "hi" to $(…)`, "it's"}}, subs: []string{"hostname"}},
		{line: `phoenix experiment status <id> &>/dev/null &`,
			want: [][]string{{"phoenix", "experiment", "status", "<id>"}}},
		{line: `cat > spec.yaml <<'EOF'`, want: [][]string{{"cat"}}, heredoc: "EOF"},
		{line: `phoenix x 'open`, wantErr: "unterminated single quote"},
		{line: `phoenix x "open`, wantErr: "unterminated double quote"},
		{line: `phoenix x $(open`, wantErr: "unterminated $("},
		{line: `phoenix x >`, wantErr: errRedirect.Error()},
		{line: `(cd x && phoenix y)`, wantErr: "subshells are not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			t.Parallel()
			cmds, subs, heredoc, err := splitShell(tt.line)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, cmds)
			assert.Equal(t, tt.subs, subs)
			assert.Equal(t, tt.heredoc, heredoc)
		})
	}
}

const sampleDoc = "Run `make demo`, then `make  check-generated`.\n" + // line 1
	"\n" +
	"```sh\n" + // 3
	"# a comment\n" +
	"PHOENIX_SERVER=http://x bin/phoenix agent list \\\n" + // 5
	"    --online\n" +
	"cat > spec.yaml <<EOF\n" + // 7
	"phoenix not-a-command\n" +
	"EOF\n" +
	"sudo phoenix version | grep -q dev\n" + // 10
	"```\n" +
	"\n" +
	"```console\n" +
	"$ phoenix experiment list\n" + // 14
	"phoenix output that is not a command\n" +
	"```\n" +
	"\n" +
	"```text\n" +
	"phoenix CLI, Grafana\n" +
	"```\n" +
	"- a list item:\n" +
	"  ~~~bash\n" +
	"  make -j4 build V=1\n" + // 23
	"  ~~~\n" +
	"```yaml\n" +
	"command: phoenix server\n" +
	"```\n"

func TestCommandsFromMarkdown(t *testing.T) {
	t.Parallel()
	md := parseMarkdown(sampleDoc)
	cmds, errs := docCommands(md)
	require.Empty(t, errs)
	type found struct {
		line  int
		words string
	}
	var got []found
	for _, c := range cmds {
		got = append(got, found{c.line, strings.Join(c.words, " ")})
	}
	assert.Equal(t, []found{
		{5, "bin/phoenix agent list --online"},
		{7, "cat"},
		{10, "phoenix version"},
		{10, "grep -q dev"},
		{14, "phoenix experiment list"},
		{23, "make -j4 build V=1"},
	}, got)
	assert.Equal(t, "phoenix", commandName(cmds[0].words))
	assert.Equal(t, []string{"build"}, makeGoals(cmds[5].words))
	assert.Equal(t, []string{"a", "b"}, makeGoals(strings.Fields("make -C dir a -f Makefile GO=go1.26 -k b")))
}

func TestUnsplittableCommandLinesAreReported(t *testing.T) {
	t.Parallel()
	md := parseMarkdown("```\nphoenix agent list --selector 'env=prod\necho 'unbalanced\n" +
		"config/server.yaml   phoenix server --config   (a directory listing)\n" +
		"X=1 bin/phoenix agent list 'x\necho ok && make demo 'x\n```\n")
	_, errs := docCommands(md)
	require.Len(t, errs, 3, "only lines running a checked command are errors: %v", errs)
	assert.Contains(t, errs[0].Error(), "line 2")
	assert.Contains(t, errs[1].Error(), "line 5")
	assert.Contains(t, errs[2].Error(), "line 6")
}

// TestRemovedFlagFailsTheDocsCheck is the promise of these tests: a doc
// naming a flag the command no longer has fails.
func TestRemovedFlagFailsTheDocsCheck(t *testing.T) {
	t.Parallel()
	md := parseMarkdown("```sh\nphoenix experiment create -f spec.yaml \\\n  --min-reduction 0.8\n```\n")
	cmds, errs := docCommands(md)
	require.Empty(t, errs)
	require.Len(t, cmds, 1)
	err := checkPhoenixCommand(cmds[0].words[1:])
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unknown flag: --min-reduction")
}

func TestMakeTargets(t *testing.T) {
	t.Parallel()
	makefile := "SHELL := /bin/bash\nVERSION ?= $(shell git describe 2>/dev/null || echo dev)\n" +
		"TEST_DEBS := postgresql-15:/usr/lib/postgresql\n.PHONY: build test\n" +
		"## build: everything\nbuild: collector phoenix\n\tgo build ./...\ncollector phoenix: generate\n" +
		"check-generated: generate\n\t@if [ -n \"$$(git status)\" ]; then exit 1; fi\n%.o: %.c\n"
	assert.Equal(t, []string{"build", "collector", "phoenix", "check-generated", "%.o"}, makeTargets(makefile))
}

func TestInlineCode(t *testing.T) {
	t.Parallel()
	text, spans := inlineCode("run `make build` and ``a`b`` then [x](`y`) `unclosed")
	assert.Equal(t, "run code and code then [x](code) `unclosed", text)
	assert.Equal(t, []string{"make build", "a`b", "y"}, spans)
}

func TestAnchors(t *testing.T) {
	t.Parallel()
	md := parseMarkdown("# Phoenix docs\n## `GET /agents/{uid}`\n## Read [the guide](g.md)\n## Phoenix docs\n" +
		"<a id=\"custom\"></a>\n```sh\n# not a heading\n```\n")
	got := anchors(md)
	for _, want := range []string{"phoenix-docs", "get-agentsuid", "read-the-guide", "phoenix-docs-1", "custom"} {
		assert.True(t, got[want], "anchor %q in %v", want, got)
	}
	assert.False(t, got["not-a-heading"])
}

func TestLinkProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
		return path
	}
	write("b.md", "# Present\n## Present\n")
	write("sub/c.yaml", "x: 1\n")
	a := write("a.md", strings.Join([]string{
		"# Local",
		"[ok](b.md) [ok](b.md#present) [ok](b.md#present-1) [ok](sub/) [ok](sub/c.yaml#L1) [ok](#local)",
		"[ok](https://example.com/x.md) [ok](mailto:x@example.com) ![ok](b.md \"title\")",
		"`[ignored](nope.md)` and [bad](b.md#absent) [bad](missing.md) [bad](#nowhere)",
		"[ref]: missing-ref.md",
		"```sh",
		"[ignored](in-code.md)",
		"```",
	}, "\n"))
	raw, err := os.ReadFile(a)
	require.NoError(t, err)
	assert.Equal(t, []string{
		`line 4: link "b.md#absent": no heading with anchor #absent`,
		`line 4: link "missing.md": no such file or directory`,
		`line 4: link "#nowhere": no heading with anchor #nowhere`,
		`line 5: link "missing-ref.md": no such file or directory`,
	}, linkProblems(a, parseMarkdown(string(raw))))
}

func TestCheckExample(t *testing.T) {
	t.Parallel()
	const collector = "receivers:\n  host_metrics:\n    scrapers:\n      process: {}\nprocessors:\n  %s: {}\n" +
		"exporters:\n  nop: {}\nservice:\n  pipelines:\n    metrics:\n      receivers: [host_metrics]\n" +
		"      processors: [%s]\n      exporters: [nop]\n"
	tests := []struct {
		name, src, kind, wantErr string
	}{
		{"a valid spec", "name: x\ntargets: {selector: env=dev}\ncandidate: {pipeline: topk}\nbaseline: {pipeline: baseline}\nduration: 5m\n", "experiment", ""},
		{"a spec with a removed field", "name: x\ntargets: {selector: env=dev}\ncandidate: {pipeline: topk}\nbaseline: {pipeline: baseline}\nduration: 5m\nwindow: 5m\n",
			"experiment", "field window not found"},
		{"a valid configuration", strings.ReplaceAll(collector, "%s", "process_critical"), "collector", ""},
		{"a configuration naming a missing component", strings.ReplaceAll(collector, "%s", "process_magic"), "collector", "process_magic"},
		{"a fragment", "processors:\n  process_topk:\n    k: 10\n", "fragment", ""},
		{"a list", "- gomod: x\n", "fragment", ""},
		{"not YAML", "a: [b\n", "", "not YAML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			kind, err := checkExample(t, tt.src)
			assert.Equal(t, tt.kind, kind)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
